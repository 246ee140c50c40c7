%% Shared PropEr generators and plain builders for the differential, bad-input and
%% scheduling tests: operations shaped like ProcessHub's (REFERENCE.md §1, §3), built
%% from sizes rather than element by element so that large inputs stay cheap to make.
-module(phn_gen).

-include_lib("proper/include/proper.hrl").

-export([
    node_names/1,
    children/1,
    mapset/1,
    sub_request/2,
    operation/3,
    pending/2,
    start_request/1,
    pids_register/1,
    pids_unregister/1,
    g_operation/0,
    g_operation/2,
    g_node_for/1,
    g_results/0,
    g_split_input/0,
    g_forward_input/0,
    g_pending/0
]).

-define(OP, 'Elixir.ProcessHub.Service.RequestManager').
-define(START, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').
-define(PREG, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').
-define(PUNREG, 'Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').

%%% Plain builders

node_names(N) -> [list_to_atom("n" ++ integer_to_list(I) ++ "@host") || I <- lists:seq(1, N)].

children(N) -> [#{child_id => {child, I}, nodes => []} || I <- lists:seq(1, N)].

mapset(Elems) ->
    Empty = phn_rm_common:empty_mapset(),
    Empty#{map := maps:from_list([{E, []} || E <- Elems])}.

sub_request(Node, Children) ->
    (?START:'__struct__'())#{
        transaction_id := tx, hub_id := hub, node := Node, children := Children,
        status := dispatched, originating_node := node()
    }.

%% An operation over Nodes, each given ChildrenPerNode children, with Completed answered.
operation(Nodes, ChildrenPerNode, Completed) ->
    NodesData = [{N, children(ChildrenPerNode)} || N <- Nodes],
    #{
        '__struct__' => ?OP,
        transaction_id => make_ref(),
        hub_id => hub,
        handler => ?START,
        nodes_data => NodesData,
        sub_requests => [sub_request(N, C) || {N, C} <- NodesData],
        completed_nodes => mapset(Completed),
        expires_at => 0,
        awaiter => nil,
        future => nil,
        options => []
    }.

%% N pending operations, keyed by reference, expires_at from ExpiresAt(I).
pending(N, ExpiresAt) ->
    maps:from_list([{make_ref(), #{expires_at => ExpiresAt(I)}} || I <- lists:seq(1, N)]).

start_request(Children) -> (sub_request(node(), []))#{children := Children}.

pids_register(N) ->
    (?PREG:'__struct__'())#{children_data := maps:from_list([{{c, I}, {#{}, [], #{}}} || I <- lists:seq(1, N)])}.

pids_unregister(N) ->
    (?PUNREG:'__struct__'())#{removable_cid_nodes := [{{c, I}, [node()]} || I <- lists:seq(1, N)]}.

%%% PropEr generators

%% Sizes lean small but reach the limits: 0..2000 nodes, 0..25 000 children in all.
g_count(Max) -> frequency([{6, range(0, 20)}, {3, range(0, Max div 10)}, {1, range(0, Max)}]).

g_operation() -> g_operation(2000, 25000).

g_operation(MaxNodes, MaxChildren) ->
    ?LET(
        {NNodes, NChildren, Dups, Extra},
        {g_count(MaxNodes), g_count(MaxChildren), range(0, 3), range(0, 2)},
        ?LET(
            Answered,
            list_of_subset(node_names(NNodes)),
            begin
                Nodes = node_names(NNodes),
                %% Duplicate node keys and unexpected completed nodes are legal inputs.
                DupNodes = lists:sublist(Nodes, Dups),
                Unexpected = [list_to_atom("stranger" ++ integer_to_list(I) ++ "@host")
                              || I <- lists:seq(1, Extra)],
                PerNode = case NNodes of 0 -> 0; _ -> NChildren div NNodes end,
                operation(Nodes ++ DupNodes, PerNode, Answered ++ Unexpected)
            end
        )
    ).

list_of_subset(List) ->
    ?LET(Bits, vector(length(List), boolean()), [E || {E, true} <- lists:zip(List, Bits)]).

%% A node to answer with: one of the operation's, or a stranger.
g_node_for(#{nodes_data := NodesData}) ->
    case NodesData of
        [] -> oneof(['stranger@host', 1, 1.0]);
        _ -> frequency([{8, elements([N || {N, _} <- NodesData])}, {1, 'stranger@host'}])
    end.

g_results() ->
    oneof([nil, [], [{child1, {ok, self()}}], list({atom(), oneof([ok, {error, int()}])}),
           binary(), int()]).

g_split_input() ->
    ?LET(
        {Kind, N},
        {elements([start, stop, preg, punreg, other, start_no_field]), g_count(25000)},
        case Kind of
            start -> start_request(children(N));
            stop -> (?STOP:'__struct__'())#{children := children(N), node := node()};
            preg -> pids_register(N);
            punreg -> pids_unregister(N);
            other -> #{unknown => true, n => N};
            start_no_field -> maps:remove(children, start_request([]))
        end
    ).

g_key() -> frequency([{8, elements([a, b, c, d, e, f, 'n1@host', 'n2@host'])}, {1, int()}]).

g_forward_input() ->
    {list({g_key(), list(int())}), list(elements([a, b, c, d, e, f, g, 'n1@host'])), term()}.

g_pending() ->
    ?LET(
        {N, Now, Spread},
        {g_count(20000), range(-1000, 1000), range(1, 500)},
        {pending(N, fun(I) ->
             case I rem 97 of
                 0 -> nil;
                 _ -> Now + (erlang:phash2(I, 2 * Spread + 1) - Spread)
             end
         end), Now}
    ).
