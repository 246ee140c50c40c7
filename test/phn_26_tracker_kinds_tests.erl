%% @doc Tracker mode's two ways of counting an operation (phn_rm_tracker): on the heap
%% (operations of at most heap_max_nodes nodes) and in the native tracker. A PropEr
%% property runs random sequences of store / update / response (from the operation's
%% nodes, strangers, extra chunks, unknown refs) / get / remove / await / await timeout /
%% cleanup against three layouts, every operation on the heap, every one in the tracker,
%% and a mix (heap_max_nodes 2), and every answer, reply and message must be the same.
%% Then the heap side's own bookkeeping: the tracker's max_ops cap, the deadline index.
-module(phn_26_tracker_kinds_tests).

-include_lib("proper/include/proper.hrl").
-include("phn_test.hrl").

-import(phn_test_helpers, [hub_state/1, make_operation/1, sub_request/4, mapset/1]).

-define(M, phn_request_manager).
-define(NODES, [n1, n2, n3, n4]).
-define(KINDS, [{heap, 64}, {native, 0}, {mixed, 2}]).

kinds_agree_test_() ->
    {timeout, 300, fun() ->
        ?assertEqual(true, proper:quickcheck(prop_kinds_agree(),
                                             [{numtests, 300}, {to_file, user}]))
    end}.

%%====================================================================
%% The property
%%====================================================================

prop_kinds_agree() ->
    ?FORALL({Specs, Cmds}, {non_empty(list(op_spec())), non_empty(list(command()))},
            begin
                Ops = list_to_tuple([operation(S) || S <- Specs]),
                %% Every operation stored first, then the commands.
                Stores = [{store, I, keep} || I <- lists:seq(1, tuple_size(Ops))],
                Tag = make_ref(), % the awaiters' tag: the same in every run
                Runs = [run(Kind, Max, Ops, Stores ++ Cmds, Tag) || {Kind, Max} <- ?KINDS],
                [Heap | Others] = Runs,
                ?WHENFAIL(io:format(user, "specs: ~p~ncmds: ~p~nruns: ~p~n", [Specs, Cmds, Runs]),
                          lists:all(fun(R) -> R =:= Heap end, Others))
            end).

%% An operation: its nodes (a node may be listed twice), children per node (1500 and 2500
%% are split in chunks), nodes already completed, and a deadline (nil: never).
op_spec() ->
    {non_empty(list({oneof(?NODES), frequency([{3, 1}, {1, 2}, {1, 1500}, {1, 2500}])})),
     list(oneof(?NODES)),
     oneof([100, 200, 300, nil])}.

%% Mostly responses, so that operations complete (an operation index past the
%% operations wraps around).
command() ->
    Op = integer(1, 6),
    frequency([{2, {store, Op, oneof([100, 200, 300, nil])}},
               {12, {respond, Op, oneof([stranger | ?NODES])}},
               {1, {respond_unknown, oneof(?NODES)}},
               {2, {get, Op}},
               {1, {remove, Op}},
               {1, {await_now, Op}},
               {1, {await, Op}},
               {1, {await_timeout, Op}},
               {1, {cleanup, oneof([150, 250, 350])}}]).

operation({Nodes, Completed, ExpiresAt}) ->
    NodesData = [{Node, children(Node, N)} || {Node, N} <- Nodes],
    make_operation(#{nodes_data => NodesData,
                     sub_requests => [sub_request(Node, nil, dispatched, Kids)
                                      || {Node, Kids} <- NodesData],
                     completed_nodes => mapset(Completed),
                     expires_at => ExpiresAt,
                     options => [{timeout, 60000}]}).

children(Node, N) ->
    [#{child_id => {Node, I}} || I <- lists:seq(1, N)].

%% Every observation of a run: each command's answer and the messages it sent.
run(_Kind, Max, Ops, Cmds, Tag) ->
    Tracker = phn_tracker:new(),
    S0 = hub_state(phn_rm_tracker:pending(Tracker, #{heap_max_nodes => Max})),
    {Seen, _} = lists:mapfoldl(fun(Cmd, S) -> step(Cmd, S, Ops, Tag) end, S0, Cmds),
    phn_tracker:close(Tracker),
    Seen.

op(I, Ops) -> element((I - 1) rem tuple_size(Ops) + 1, Ops).
ref(Op) -> maps:get(transaction_id, Op).

step({store, I, ExpiresAt}, S, Ops, _Tag) ->
    Op = op(I, Ops),
    Stored = case ?M:get(S, ref(Op)) of
                 nil -> Op;
                 Pending when ExpiresAt =:= keep -> Pending;
                 Pending -> Pending#{expires_at := ExpiresAt} % an update keeps what was counted
             end,
    observe(fun() -> S1 = ?M:store(S, Stored), {pending(S1), S1} end, S);
step({respond, I, Node}, S, Ops, _Tag) ->
    Op = op(I, Ops),
    observe(fun() ->
                    {noreply, S1} = ?M:handle_response(S, ref(Op), Node, [{Node, {ok, self()}}]),
                    {{pending(S1), ?M:get(S1, ref(Op))}, S1}
            end, S);
step({respond_unknown, Node}, S, _Ops, _Tag) ->
    observe(fun() -> {noreply, S1} = ?M:handle_response(S, make_ref(), Node, []), {pending(S1), S1} end, S);
step({get, I}, S, Ops, _Tag) ->
    observe(fun() -> {?M:get(S, ref(op(I, Ops))), S} end, S);
step({remove, I}, S, Ops, _Tag) ->
    observe(fun() -> S1 = ?M:remove(S, ref(op(I, Ops))), {pending(S1), S1} end, S);
step({await_now, I}, S, Ops, Tag) ->
    %% timeout 0: answered at once with what arrived.
    Ref = ref(op(I, Ops)),
    observe(fun() ->
                    S1 = case ?M:get(S, Ref) of
                             nil -> S;
                             Pending -> ?M:update(S, Pending#{options := [{timeout, 0}]})
                         end,
                    {Reply, S2} = await(?M:handle_await(S1, Ref, {self(), Tag})),
                    {{Reply, pending(S2)}, S2}
            end, S);
step({await, I}, S, Ops, Tag) ->
    %% The timer it starts (60 s) is the test's to fire: see await_timeout.
    Ref = ref(op(I, Ops)),
    observe(fun() -> {Reply, S1} = await(?M:handle_await(S, Ref, {self(), Tag})), {Reply, S1} end, S);
step({await_timeout, I}, S, Ops, Tag) ->
    Ref = ref(op(I, Ops)),
    observe(fun() -> {noreply, S1} = ?M:handle_timeout(S, Ref, {self(), Tag}), {pending(S1), S1} end, S);
step({cleanup, Now}, S, _Ops, _Tag) ->
    observe(fun() -> S1 = ?M:cleanup_expired(S, Now), {pending(S1), S1} end, S).

await({reply, Reply, S}) -> {{reply, Reply}, S};
await({noreply, S}) -> {noreply, S}.

%% The answer (or the exception) and the replies sent to awaiters meanwhile; a raise
%% leaves the state as it was.
observe(Fun, S) ->
    {Answer, S1} = try Fun()
                   catch Class:Reason -> {{raised, Class, Reason}, S}
                   end,
    {{Answer, replies()}, S1}.

replies() ->
    receive {Tag, Reply} when is_reference(Tag) -> [Reply | replies()]
    after 0 -> []
    end.

pending(#{pending_operations := P}) -> map_size(element(3, P)).

%%====================================================================
%% The heap side's own bookkeeping
%%====================================================================

%% The tracker's max_ops holds for both kinds together.
max_ops_counts_both_kinds_test() ->
    S0 = hub_state(phn_rm_tracker:pending(phn_tracker:new(#{max_ops => 2}), #{heap_max_nodes => 1})),
    Small = one_of(1),
    Big = one_of(2),
    S1 = ?M:store(?M:store(S0, Small), Big),
    ?assertEqual(1, phn_tracker:size(phn_rm_tracker:tracker(S1))),
    ?assertError({phn_tracker, limit}, ?M:store(S1, one_of(1))),
    ?assertError({phn_tracker, limit}, ?M:store(S1, one_of(2))),
    %% Updating a pending operation adds nothing.
    ?assertEqual(2, pending(?M:update(S1, Small#{hub_id := moved}))).

one_of(NodeCount) ->
    Nodes = lists:sublist(?NODES, NodeCount),
    make_operation(#{nodes_data => [{N, []} || N <- Nodes],
                     sub_requests => [sub_request(N, nil, dispatched, []) || N <- Nodes]}).

%% Due holds each heap-counted operation under its deadline, and only while it is pending:
%% completion, remove, await, update and cleanup take it out; a cleanup visits deadlines.
due_follows_the_operations_test() ->
    Ops = [(one_of(2))#{expires_at := D} || D <- [10, 10, 20, 30, nil]],
    [A, B, C, D, E] = Ops,
    S0 = lists:foldl(fun(Op, S) -> ?M:store(S, Op) end, hub_state(phn_tracker:new()), Ops),
    ?assertEqual(#{10 => lists:sort([ref(A), ref(B)]), 20 => [ref(C)], 30 => [ref(D)]}, due(S0)),
    {noreply, S1} = ?M:handle_response(S0, ref(A), n1, []),
    {noreply, S2} = ?M:handle_response(S1, ref(A), n2, []),
    ?assertEqual(#{10 => [ref(B)], 20 => [ref(C)], 30 => [ref(D)]}, due(S2)),
    S3 = ?M:update(S2, C#{expires_at := 40}),
    ?assertEqual(#{10 => [ref(B)], 30 => [ref(D)], 40 => [ref(C)]}, due(S3)),
    S4 = ?M:remove(S3, ref(D)),
    ?assertEqual(#{10 => [ref(B)], 40 => [ref(C)]}, due(S4)),
    %% Strictly past the deadline: not at 10, at 11.
    ?assert(?M:cleanup_expired(S4, 10) =:= S4),
    S5 = ?M:cleanup_expired(S4, 11),
    ?assertEqual(#{40 => [ref(C)]}, due(S5)),
    ?assertEqual(nil, ?M:get(S5, ref(B))),
    S6 = ?M:cleanup_expired(S5, 1 bsl 62),
    ?assertEqual(#{}, due(S6)),
    %% The operation without a deadline never expires and is not indexed.
    ?assertEqual([ref(E)], maps:keys(element(3, maps:get(pending_operations, S6)))),
    {reply, _, S7} = ?M:handle_await(?M:update(S6, E#{options := [{timeout, 0}]}), ref(E),
                                     {self(), make_ref()}),
    ?assertEqual(0, pending(S7)).

due(#{pending_operations := P}) ->
    maps:map(fun(_, Refs) -> lists:sort(Refs) end, element(4, P)).

%% Operations of more nodes than heap_max_nodes go to the tracker; nodes that are not
%% atoms too (where store raises, as it always did).
kind_by_node_count_test() ->
    S = hub_state(phn_rm_tracker:pending(phn_tracker:new(), #{heap_max_nodes => 2})),
    S1 = ?M:store(?M:store(S, one_of(2)), one_of(3)),
    ?assertEqual([2, 4], lists:sort([tuple_size(E) || E <- maps:values(element(3, maps:get(pending_operations, S1)))])),
    ?assertEqual(1, phn_tracker:size(phn_rm_tracker:tracker(S1))),
    Bad = (one_of(1))#{nodes_data := [{"n1", []}], sub_requests := [sub_request("n1", nil, dispatched, [])]},
    ?assertError(badarg, ?M:store(S, Bad)).

%% pending/2 refuses what it does not know, naming it.
pending_options_test() ->
    T = phn_tracker:new(),
    ?assertError(badarg, phn_rm_tracker:pending(T, #{heap_max_nodes => -1})),
    ?assertError(badarg, phn_rm_tracker:pending(T, #{heap_nodes => 1})),
    ?assertError(badarg, phn_rm_tracker:pending(T, not_a_map)),
    phn_tracker:close(T),
    ?assertError({phn_tracker, closed}, phn_rm_tracker:pending(T, #{})).

%% The awaiter of an operation the tracker lost (closed under it) still gets an answer
%% at its timeout, with what arrived and no node counted as done.
lost_operation_still_answers_awaiter_test() ->
    T = phn_tracker:new(),
    S0 = hub_state(phn_rm_tracker:pending(T, #{heap_max_nodes => 0})),
    Op = phn_test_helpers:two_node_op(#{options => [{timeout, 60000}]}),
    Tag = make_ref(),
    From = {self(), Tag},
    {noreply, S1} = ?M:handle_await(?M:store(S0, Op), ref(Op), From),
    {noreply, S2} = ?M:handle_response(S1, ref(Op), node1, [{c1, {ok, self()}}]),
    ok = phn_tracker:close(T),
    {noreply, S3} = ?M:handle_timeout(S2, ref(Op), From),
    ?assertEqual(0, pending(S3)),
    Self = self(),
    receive
        {Tag, Result} ->
            ?assertMatch(#{status := error, started := [{c1, [{node1, Self}]}],
                           errors := [{c2, {error, no_response}}]}, Result)
    after 0 -> erlang:error(no_reply)
    end.
