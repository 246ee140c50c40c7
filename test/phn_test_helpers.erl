%% @doc Helpers shared by the RequestManager EUnit suites (REFERENCE.md §6 conventions).
-module(phn_test_helpers).

-export([struct_with/2,
         hub_state/1,
         make_operation/0,
         make_operation/1,
         sub_request/4,
         stop_sub_request/4,
         hub/0,
         hub/1,
         delete_hub/1,
         mapset/1,
         members/1,
         now_ms/0,
         children/2,
         recv/1,
         one_node_op/1,
         two_node_op/1]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP_REQ, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').

%% @doc Elixir's `struct!/2': set existing fields of a struct (unknown keys raise).
struct_with(Struct, Fields) when is_map(Fields) ->
    struct_with(Struct, maps:to_list(Fields));
struct_with(Struct, Fields) when is_list(Fields) ->
    lists:foldl(fun({K, V}, S) -> S#{K := V} end, Struct, Fields).

%% @doc A coordinator state: `hub_id test_hub' and the given pending operations.
hub_state(Pending) ->
    #{hub_id => test_hub, pending_operations => Pending}.

make_operation() ->
    make_operation(#{}).

%% @doc A `%RequestManager{}' (handler StartChildrenRequest, nodes_data
%% `[{node(), []}]', empty completed_nodes, expires_at now + timeout (default 60 000),
%% no sub-requests, options []). `Overrides' (map or proplist) may set any of the ten
%% fields plus `timeout'; a list given as `completed_nodes' becomes a MapSet.
make_operation(Overrides) when is_list(Overrides) ->
    make_operation(maps:from_list(Overrides));
make_operation(Overrides0) ->
    {Timeout, Overrides1} = case maps:take(timeout, Overrides0) of
                                error -> {60000, Overrides0};
                                {T, O} -> {T, O}
                            end,
    Overrides = case Overrides1 of
                    #{completed_nodes := L} when is_list(L) ->
                        Overrides1#{completed_nodes := mapset(L)};
                    _ ->
                        Overrides1
                end,
    Base = #{'__struct__' => ?RM,
             transaction_id => make_ref(),
             hub_id => test_hub,
             handler => ?START_REQ,
             nodes_data => [{node(), []}],
             sub_requests => [],
             completed_nodes => mapset([]),
             expires_at => now_ms() + Timeout,
             awaiter => nil,
             future => nil,
             options => []},
    maps:fold(fun(K, V, Acc) -> Acc#{K := V} end, Base, Overrides).

%% @doc `SR(node, results, status, children)': a `%StartChildrenRequest{}'.
sub_request(Node, Results, Status, Children) ->
    struct_with(?START_REQ:'__struct__'(),
                [{node, Node}, {results, Results}, {status, Status}, {children, Children}]).

stop_sub_request(Node, Results, Status, Children) ->
    struct_with(?STOP_REQ:'__struct__'(),
                [{node, Node}, {results, Results}, {status, Status}, {children, Children}]).

hub() ->
    hub(#{}).

%% @doc A hub: ETS misc storage holding the four strategies (overridable) and an ETS
%% system registry (empty: partitioned). Also a coordinator state (pending_operations).
hub(Strategies) ->
    Misc = ets:new(phn_test_misc, [set, public]),
    Registry = ets:new(phn_test_system_registry, [set, public]),
    Defaults = #{synchronization_strategy => {sync_strategy, pubsub},
                 distribution_strategy => {dist_strategy, consistent_hashing},
                 redundancy_strategy => {redun_strategy, 1},
                 migration_strategy => {migr_strategy, cold_swap}},
    maps:foreach(fun(K, V) -> true = ets:insert(Misc, {K, V}) end,
                 maps:merge(Defaults, Strategies)),
    #{hub_id => test_hub,
      storage => #{misc => Misc},
      procs => #{system_registry => Registry},
      pending_operations => #{}}.

delete_hub(#{storage := #{misc := Misc}, procs := #{system_registry := Registry}}) ->
    ets:delete(Misc),
    ets:delete(Registry),
    ok.

mapset(Elems) ->
    phn_rm_common:mapset_from_list(Elems).

members(MapSet) ->
    phn_rm_common:mapset_to_list(MapSet).

now_ms() ->
    erlang:monotonic_time(millisecond).

%% @doc N child data maps `#{child_id => {Prefix, I}}'.
children(Prefix, N) ->
    [#{child_id => {Prefix, I}, nodes => [node()]} || I <- lists:seq(1, N)].

%% @doc The next message matching nothing in particular, or `timeout' after Ms.
recv(Ms) ->
    receive Msg -> Msg after Ms -> timeout end.

%% @doc An operation of one node (this one) sent one child, with Overrides.
one_node_op(Overrides) ->
    make_operation(maps:merge(
                     #{nodes_data => [{node(), [#{child_id => child1}]}],
                       sub_requests => [sub_request(node(), nil, dispatched,
                                                    [#{child_id => child1}])]},
                     Overrides)).

%% @doc An operation of node1 and node2, sent one child each, with Overrides.
two_node_op(Overrides) ->
    make_operation(maps:merge(
                     #{nodes_data => [{node1, [#{child_id => c1}]}, {node2, [#{child_id => c2}]}],
                       sub_requests => [sub_request(node1, nil, dispatched, [#{child_id => c1}]),
                                        sub_request(node2, nil, dispatched, [#{child_id => c2}])]},
                     Overrides)).
