%% @doc phn_request_manager in tracker mode (pending_operations is a phn_tracker):
%% REFERENCE.md §6.1 cases 1–6 and 23–34 run in both modes from the same operation terms,
%% and must give the same replies, the same messages to awaiters, the same operations from
%% get/2 and the same number of pending operations. The cases where tracker mode fixes
%% ProcessHub (results of split chunks, responses from unexpected nodes, duplicate
%% responses) assert each mode's outcome explicitly.
-module(phn_22_tracker_mode_tests).

-include("phn_test.hrl").

-import(phn_test_helpers, [hub_state/1, make_operation/1, sub_request/4, mapset/1, members/1,
                           now_ms/0, recv/1, one_node_op/1, two_node_op/1]).

-define(M, phn_request_manager).

-export([aggregate_results/1, post_process/3]).

%%====================================================================
%% Harness
%%====================================================================

%% Tracker mode comes in two kinds, which every case below runs and compares:
%% `tracker', the default (operations of a few nodes counted on the heap, the others by
%% the tracker), and `native' (every operation in the tracker: heap_max_nodes 0).
new_state(map) -> hub_state(#{});
new_state(tracker) -> hub_state(phn_tracker:new());
new_state(native) -> hub_state(phn_rm_tracker:pending(phn_tracker:new(), #{heap_max_nodes => 0})).

%% Pending operations; in tracker mode the sides must agree: the tracker holds the
%% tracker's entries, Due the heap's (each under its deadline).
pending(#{pending_operations := P}) when is_map(P) -> map_size(P);
pending(#{pending_operations := {phn_pending, T, Ops, Due, _Limits}}) ->
    Native = maps:filter(fun(_, E) -> tuple_size(E) =:= 2 end, Ops),
    ?assertEqual(map_size(Native), phn_tracker:size(T)),
    Indexed = lists:sort([{D, R} || {D, Refs} <- maps:to_list(Due), R <- Refs]),
    ?assertEqual(lists:sort([{D, R} || {R, {_, _, _, D}} <- maps:to_list(Ops), D =/= infinity]),
                 Indexed),
    map_size(Ops);
pending(#{pending_operations := T}) -> phn_tracker:size(T).

%% The operations' entries of a tracker-mode state, whatever the kind.
entries(#{pending_operations := P}) when element(1, P) =:= phn_pending -> element(3, P).

state_with(Mode, Ops) ->
    lists:foldl(fun(Op, S) -> ?M:store(S, Op) end, new_state(Mode), Ops).

ref(Op) -> maps:get(transaction_id, Op).

%% Messages already in the mailbox (replies are sent synchronously by the handlers).
flush() ->
    receive Msg -> [Msg | flush()] after 0 -> [] end.

%% Run Scenario(Mode) in both modes; the observations must be equal.
same(Scenario) ->
    flush(),
    Map = Scenario(map),
    MapMsgs = flush(),
    Tracker = Scenario(tracker),
    TrackerMsgs = flush(),
    ?assertEqual(Map, Tracker),
    ?assertEqual(MapMsgs, TrackerMsgs),
    Native = Scenario(native),
    ?assertEqual(Map, Native),
    ?assertEqual(MapMsgs, flush()),
    {Map, MapMsgs}.

%% An operation whose node1 was sent N children (split in ceil(N / 1000) chunks) and
%% node2 one child.
big_op(N, Overrides) ->
    Kids = [#{child_id => {k, I}} || I <- lists:seq(1, N)],
    make_operation(maps:merge(
                     #{nodes_data => [{node1, Kids}, {node2, [#{child_id => c2}]}],
                       sub_requests => [sub_request(node1, nil, dispatched, Kids),
                                        sub_request(node2, nil, dispatched, [#{child_id => c2}])]},
                     Overrides)).

chunk_results(From, To) -> [{{k, I}, {ok, self()}} || I <- lists:seq(From, To)].

%%====================================================================
%% State management (cases 1–6)
%%====================================================================

store_get_update_remove_test() ->
    Op1 = make_operation(#{}),
    Op2 = make_operation(#{}),
    same(fun(Mode) ->
        S1 = ?M:store(new_state(Mode), Op1),
        S2 = ?M:store(S1, Op2),
        Got = {?M:get(S2, ref(Op1)), ?M:get(S2, ref(Op2)), ?M:get(S2, make_ref())},
        S3 = ?M:update(S2, Op1#{hub_id := updated_hub}),
        Updated = maps:get(hub_id, ?M:get(S3, ref(Op1))),
        N3 = pending(S3),
        S4 = ?M:remove(S3, ref(Op1)),
        S5 = ?M:remove(S4, make_ref()),
        {Got, Updated, N3, pending(S4), pending(S5), ?M:get(S5, ref(Op1))}
    end).

store_get_returns_the_stored_term_test() ->
    Op = make_operation(#{}),
    {Got, []} = same(fun(Mode) -> ?M:get(state_with(Mode, [Op]), ref(Op)) end),
    ?assertEqual(Op, Got).

cleanup_expired_test() ->
    Old = make_operation(#{timeout => -1000}),
    Valid = make_operation(#{timeout => 60000}),
    NilExp = make_operation(#{expires_at => nil}),
    same(fun(Mode) ->
        S = ?M:cleanup_expired(state_with(Mode, [Old, Valid, NilExp])),
        {pending(S), ?M:get(S, ref(Old)), ?M:get(S, ref(Valid)) =:= Valid,
         ?M:get(S, ref(NilExp)) =:= NilExp}
    end),
    %% With the clock given: strict, as expired?/2.
    Op = make_operation(#{expires_at => 100}),
    same(fun(Mode) ->
        S = state_with(Mode, [Op]),
        A = pending(?M:cleanup_expired(S, 100)),
        {A, pending(?M:cleanup_expired(S, 101))}
    end).

%%====================================================================
%% handle_response (cases 23–27)
%%====================================================================

handle_response_unknown_ref_test() ->
    Op = one_node_op(#{}),
    same(fun(Mode) ->
        S = state_with(Mode, [Op]),
        {{noreply, S} =:= ?M:handle_response(S, make_ref(), node(), [x]), pending(S)}
    end).

handle_response_completes_test() ->
    Op = one_node_op(#{}),
    {{0, kept}, []} =
        same(fun(Mode) ->
            S = (state_with(Mode, [Op]))#{other => kept},
            {noreply, S1} = ?M:handle_response(S, ref(Op), node(), [{child1, {ok, self()}}]),
            {pending(S1), maps:get(other, S1)}
        end).

handle_response_pending_test() ->
    Op = two_node_op(#{}),
    {{Op1, [node1], 0}, []} =
        same(fun(Mode) ->
            {noreply, S1} = ?M:handle_response(state_with(Mode, [Op]), ref(Op), node1,
                                               [{c1, {ok, self()}}]),
            Got = ?M:get(S1, ref(Op)),
            {noreply, S2} = ?M:handle_response(S1, ref(Op), node2, [{c2, {ok, self()}}]),
            {Got, members(maps:get(completed_nodes, Got)), pending(S2)}
        end),
    [SR1, SR2] = maps:get(sub_requests, Op1),
    ?assertEqual({[{c1, {ok, self()}}], completed}, {maps:get(results, SR1), maps:get(status, SR1)}),
    ?assertEqual({nil, dispatched}, {maps:get(results, SR2), maps:get(status, SR2)}).

handle_response_no_retention_test() ->
    Op = one_node_op(#{options => [{awaitable, true}, {timeout, 0}]}),
    same(fun(Mode) ->
        {noreply, S1} = ?M:handle_response(state_with(Mode, [Op]), ref(Op), node(),
                                           [{child1, {ok, self()}}]),
        Second = ?M:handle_response(S1, ref(Op), node(), [{child2, {ok, self()}}]),
        {pending(S1), Second =:= {noreply, S1},
         ?M:handle_await(S1, ref(Op), {self(), make_ref()}) =:=
             {reply, {error, pending_request_not_found}, S1}}
    end).

handle_response_replies_to_awaiter_test() ->
    Tag = make_ref(),
    Pid = self(),
    Op = one_node_op(#{awaiter => {self(), Tag}}),
    {0, [{Tag, Reply}]} =
        same(fun(Mode) ->
            {noreply, S1} = ?M:handle_response(state_with(Mode, [Op]), ref(Op), node(),
                                               [{child1, {ok, Pid}}]),
            pending(S1)
        end),
    ?assertMatch(#{'__struct__' := ?START_RESULT, status := ok, started := [{child1, [{_, Pid}]}]},
                 Reply).

handle_response_replies_to_alias_test() ->
    Alias = erlang:alias(),
    Tag = [alias | Alias],
    Op = one_node_op(#{awaiter => {self(), Tag}}),
    {_, [{Tag, Reply}]} =
        same(fun(Mode) ->
            {noreply, S1} = ?M:handle_response(state_with(Mode, [Op]), ref(Op), node(),
                                               [{child1, {error, boom}}]),
            pending(S1)
        end),
    erlang:unalias(Alias),
    ?assertMatch(#{status := error, errors := [{child1, boom}]}, Reply).

handle_response_finalize_rollback_test() ->
    Tag = make_ref(),
    Op = two_node_op(#{awaiter => {self(), Tag}, options => [{on_failure, rollback}]}),
    {0, [{Tag, Reply}]} =
        same(fun(Mode) ->
            {noreply, S1} = ?M:handle_response(state_with(Mode, [Op]), ref(Op), node1,
                                               [{c1, {ok, self()}}]),
            {noreply, S2} = ?M:handle_response(S1, ref(Op), node2, [{c2, {error, crash}}]),
            pending(S2)
        end),
    ?assertMatch(#{status := error, rollback := true, errors := [{c2, crash}]}, Reply).

%%====================================================================
%% handle_await (cases 28–31)
%%====================================================================

handle_await_unknown_ref_test() ->
    Op = one_node_op(#{}),
    same(fun(Mode) ->
        S = state_with(Mode, [Op]),
        ?M:handle_await(S, make_ref(), {self(), make_ref()}) =:=
            {reply, {error, pending_request_not_found}, S}
    end).

handle_await_all_responded_test() ->
    Op = make_operation(#{completed_nodes => [node()],
                          sub_requests => [sub_request(node(), [{child1, {ok, self()}}],
                                                       completed, [#{child_id => child1}])]}),
    {{Reply, 0}, []} =
        same(fun(Mode) ->
            {reply, R, S1} = ?M:handle_await(state_with(Mode, [Op]), ref(Op), {self(), make_ref()}),
            {R, pending(S1)}
        end),
    ?assertMatch(#{'__struct__' := ?START_RESULT, status := ok}, Reply).

handle_await_after_responses_test() ->
    Op = two_node_op(#{options => [{timeout, 5000}]}),
    {{Reply, 0}, []} =
        same(fun(Mode) ->
            S = state_with(Mode, [Op]),
            {noreply, S1} = ?M:handle_response(S, ref(Op), node1, [{c1, {ok, self()}}]),
            %% Storing the op as read back (results merged in) changes nothing.
            S2 = ?M:update(S1, ?M:get(S1, ref(Op))),
            ?assertEqual(?M:get(S1, ref(Op)), ?M:get(S2, ref(Op))),
            %% node2's answer completes it (removed); an await then finds nothing.
            {noreply, S3} = ?M:handle_response(S2, ref(Op), node2, [{c2, {ok, self()}}]),
            {reply, R, S4} = ?M:handle_await(S3, ref(Op), {self(), make_ref()}),
            {R, pending(S4)}
        end),
    ?assertEqual({error, pending_request_not_found}, Reply).

handle_await_timeout_zero_test() ->
    Op = two_node_op(#{options => [{timeout, 0}]}),
    {{Reply, 0}, []} =
        same(fun(Mode) ->
            {reply, R, S1} = ?M:handle_await(state_with(Mode, [Op]), ref(Op), {self(), make_ref()}),
            {R, pending(S1)}
        end),
    ?assertMatch(#{status := error, started := []}, Reply),
    ?assertEqual([{c2, {error, no_response}}, {c1, {error, no_response}}], maps:get(errors, Reply)).

handle_await_partial_timeout_zero_test() ->
    Op = two_node_op(#{options => [{timeout, 0}]}),
    {{Reply, 0}, []} =
        same(fun(Mode) ->
            {noreply, S} = ?M:handle_response(state_with(Mode, [Op]), ref(Op), node2,
                                              [{c2, {ok, self()}}]),
            {reply, R, S1} = ?M:handle_await(S, ref(Op), {self(), make_ref()}),
            {R, pending(S1)}
        end),
    ?assertMatch(#{status := error, started := [{c2, _}], errors := [{c1, {error, no_response}}]},
                 Reply).

handle_await_defers_test() ->
    Op = two_node_op(#{options => [{timeout, 5000}]}),
    From = {self(), make_ref()},
    {{Got, 1}, []} =
        same(fun(Mode) ->
            {noreply, S1} = ?M:handle_await(state_with(Mode, [Op]), ref(Op), From),
            {?M:get(S1, ref(Op)), pending(S1)}
        end),
    ?assertEqual(Op#{awaiter := From}, Got).

handle_await_timer_test() ->
    Op = two_node_op(#{options => [{timeout, 20}]}),
    From1 = {self(), make_ref()},
    From2 = {self(), make_ref()},
    Ref = ref(Op),
    [begin
         S0 = state_with(Mode, [Op]),
         {noreply, S1} = ?M:handle_await(S0, Ref, From1),
         {noreply, S2} = ?M:handle_await(S1, Ref, From2),
         ?assertEqual(From2, maps:get(awaiter, ?M:get(S2, Ref))),
         ?assertEqual({await_timeout, Ref, From1}, recv(1000)),
         ?assertEqual({await_timeout, Ref, From2}, recv(1000)),
         %% The first awaiter's timer finds another awaiter: nothing; the second's answers.
         ?assertEqual({noreply, S2}, ?M:handle_timeout(S2, Ref, From1)),
         {noreply, S3} = ?M:handle_timeout(S2, Ref, From2),
         ?assertEqual(0, pending(S3)),
         {_, Tag2} = From2,
         ?assertMatch({Tag2, #{status := error}}, recv(1000))
     end || Mode <- [map, tracker]].

%%====================================================================
%% handle_timeout (cases 32–34)
%%====================================================================

handle_timeout_unknown_ref_test() ->
    Op = one_node_op(#{}),
    same(fun(Mode) ->
        S = state_with(Mode, [Op]),
        ?M:handle_timeout(S, make_ref(), {self(), make_ref()}) =:= {noreply, S}
    end).

handle_timeout_replies_test() ->
    Tag = make_ref(),
    From = {self(), Tag},
    Op = one_node_op(#{awaiter => From}),
    {0, [{Tag, Reply}]} =
        same(fun(Mode) ->
            {noreply, S1} = ?M:handle_timeout(state_with(Mode, [Op]), ref(Op), From),
            pending(S1)
        end),
    ?assertMatch(#{status := error, errors := [{child1, {error, no_response}}]}, Reply).

handle_timeout_other_awaiter_test() ->
    From1 = {self(), make_ref()},
    From2 = {self(), make_ref()},
    Op = one_node_op(#{awaiter => From1}),
    OpNil = one_node_op(#{}),
    {{true, 1, true}, []} =
        same(fun(Mode) ->
            S = state_with(Mode, [Op]),
            SNil = state_with(Mode, [OpNil]),
            {?M:handle_timeout(S, ref(Op), From2) =:= {noreply, S}, pending(S),
             ?M:handle_timeout(SNil, ref(OpNil), From2) =:= {noreply, SNil}}
        end).

handle_await_stop_not_found_test() ->
    Op = make_operation(#{handler => ?STOP_REQ, nodes_data => [],
                          options => [{not_found_children, [x]}, {timeout, 10000}]}),
    {{Reply, 0}, []} =
        same(fun(Mode) ->
            {reply, R, S1} = ?M:handle_await(state_with(Mode, [Op]), ref(Op), {self(), make_ref()}),
            {R, pending(S1)}
        end),
    ?assertEqual(#{'__struct__' => ?STOP_RESULT, status => error, stopped => [],
                   errors => [{x, {error, not_found}}]}, Reply).

%% A full round trip with a stop operation over three nodes, answered out of order.
stop_round_trip_test() ->
    Nodes = [n1, n2, n3],
    Subs = [phn_test_helpers:stop_sub_request(N, nil, dispatched, [#{child_id => {c, N}}])
            || N <- Nodes],
    Tag = make_ref(),
    Op = make_operation(#{handler => ?STOP_REQ, nodes_data => [{N, []} || N <- Nodes],
                          sub_requests => Subs, awaiter => {self(), Tag}}),
    {0, [{Tag, Reply}]} =
        same(fun(Mode) ->
            {noreply, S} = lists:foldl(
                             fun(N, {noreply, Acc}) ->
                                     ?M:handle_response(Acc, ref(Op), N, [{{c, N}, ok}])
                             end, {noreply, state_with(Mode, [Op])}, [n3, n1, n2]),
            pending(S)
        end),
    ?assertMatch(#{status := ok, errors := []}, Reply),
    ?assertEqual(3, length(maps:get(stopped, Reply))).

%%====================================================================
%% Where tracker mode fixes ProcessHub: each outcome asserted
%%====================================================================

%% A node sent 2500 children answers in 3 chunks. Map mode completes on node1's first
%% chunk (once node2 has answered) and its result reports 1000 + 1 children: 1500 are
%% lost. Tracker mode waits for the three chunks and reports all 2501.
split_chunks_fix_test() ->
    Tag = make_ref(),
    Op = big_op(2500, #{awaiter => {self(), Tag}}),
    Responses = [{node1, chunk_results(1, 1000)}, {node2, [{c2, {ok, self()}}]},
                 {node1, chunk_results(1001, 2000)}, {node1, chunk_results(2001, 2500)}],
    Run = fun(Mode) ->
              S = state_with(Mode, [Op]),
              {AfterEach, _} =
                  lists:mapfoldl(fun({N, R}, Acc) ->
                                         {noreply, Acc1} = ?M:handle_response(Acc, ref(Op), N, R),
                                         {pending(Acc1), Acc1}
                                 end, S, Responses),
              Reply = receive {Tag, Rep} -> Rep after 1000 -> none end,
              {AfterEach, Reply}
          end,
    {MapPending, MapReply} = Run(map),
    {TrPending, TrReply} = Run(tracker),
    ?assertEqual({TrPending, TrReply}, Run(native)),
    ?assertEqual([1, 0, 0, 0], MapPending),
    ?assertEqual([1, 1, 1, 0], TrPending),
    ?assertEqual(1001, length(maps:get(started, MapReply))),
    ?assertEqual(2501, length(maps:get(started, TrReply))),
    ?assertMatch(#{status := ok, errors := []}, TrReply),
    Started = lists:sort([Cid || {Cid, _} <- maps:get(started, TrReply)]),
    ?assertEqual(lists:sort([c2 | [{k, I} || I <- lists:seq(1, 2500)]]), Started).

%% The same, answered in another chunk order, and with the results merged in get/2 while
%% a chunk is still missing: node1's sub-request then carries the two chunks received (in
%% arrival order) and node1 is not yet in completed_nodes.
split_chunks_get_test() ->
    Op = big_op(2500, #{}),
    S0 = state_with(tracker, [Op]),
    {noreply, S1} = ?M:handle_response(S0, ref(Op), node1, chunk_results(2001, 2500)),
    {noreply, S2} = ?M:handle_response(S1, ref(Op), node1, chunk_results(1, 1000)),
    Got = ?M:get(S2, ref(Op)),
    [SR1, SR2] = maps:get(sub_requests, Got),
    ?assertEqual(chunk_results(2001, 2500) ++ chunk_results(1, 1000), maps:get(results, SR1)),
    ?assertEqual(dispatched, maps:get(status, SR1)),
    ?assertEqual(SR2, lists:nth(2, maps:get(sub_requests, Op))),
    ?assertEqual([], members(maps:get(completed_nodes, Got))),
    %% An await with timeout 0 now answers with what arrived: the missing chunk's children
    %% are absent (as in map mode, which would also have lost the first chunk's).
    S3 = ?M:update(S2, Got#{options := [{timeout, 0}]}),
    {reply, R, S4} = ?M:handle_await(S3, ref(Op), {self(), make_ref()}),
    ?assertEqual(1500, length(maps:get(started, R))),
    ?assertEqual([{c2, {error, no_response}}], maps:get(errors, R)),
    ?assertEqual(0, pending(S4)).

%% A response from a node outside the operation. Map mode records it in completed_nodes,
%% after which the operation can never complete by responses. Tracker mode ignores it
%% (counted in stats) and completes when node1 and node2 have answered.
unexpected_node_fix_test() ->
    Tag = make_ref(),
    Op = two_node_op(#{awaiter => {self(), Tag}}),
    Run = fun(Mode) ->
              S = state_with(Mode, [Op]),
              {noreply, S1} = ?M:handle_response(S, ref(Op), stranger, [{x, {ok, self()}}]),
              {noreply, S2} = ?M:handle_response(S1, ref(Op), node1, [{c1, {ok, self()}}]),
              {noreply, S3} = ?M:handle_response(S2, ref(Op), node2, [{c2, {ok, self()}}]),
              {pending(S3), receive {Tag, R} -> R after 0 -> none end, S3}
          end,
    {MapPending, MapReply, MapS} = Run(map),
    {TrPending, TrReply, _} = Run(tracker),
    {TrPending, TrReply, TrS} = Run(native),
    ?assertEqual({1, none}, {MapPending, MapReply}),
    ?assertEqual([node1, node2, stranger],
                 members(maps:get(completed_nodes, ?M:get(MapS, ref(Op))))),
    ?assertEqual(0, TrPending),
    ?assertMatch(#{status := ok, errors := []}, TrReply),
    ?assertEqual(2, length(maps:get(started, TrReply))),
    ?assertMatch(#{ignored := #{unexpected_node := 1}},
                 phn_tracker:stats(phn_rm_tracker:tracker(TrS))).

%% A second response from a node (not split): map mode overwrites the node's results with
%% the latest; tracker mode keeps the first and ignores the extra one (counted).
duplicate_response_test() ->
    Op = two_node_op(#{}),
    Run = fun(Mode) ->
              S = state_with(Mode, [Op]),
              {noreply, S1} = ?M:handle_response(S, ref(Op), node1, [{c1, {ok, self()}}]),
              {noreply, S2} = ?M:handle_response(S1, ref(Op), node1, [{c1, {error, late}}]),
              [SR1, _] = maps:get(sub_requests, ?M:get(S2, ref(Op))),
              maps:get(results, SR1)
          end,
    ?assertEqual([{c1, {error, late}}], Run(map)),
    ?assertEqual([{c1, {ok, self()}}], Run(tracker)),
    ?assertEqual([{c1, {ok, self()}}], Run(native)).

%% Tracker mode's caps: past max_ops, store raises {phn_tracker, limit}.
store_past_cap_test() ->
    S = ?M:store(hub_state(phn_tracker:new(#{max_ops => 1})), make_operation(#{})),
    ?assertError({phn_tracker, limit}, ?M:store(S, make_operation(#{}))).

%% Map mode is untouched: a map state never reaches the tracker code.
map_mode_unchanged_test() ->
    Op = one_node_op(#{}),
    S = ?M:store(hub_state(#{}), Op),
    ?assertEqual(#{ref(Op) => Op}, maps:get(pending_operations, S)).

%% Bad input in tracker mode raises, as in map mode.
bad_input_test() ->
    S = new_state(tracker),
    From = {self(), make_ref()},
    ?assertError(_, ?M:store(S, #{not_an => op})),
    ?assertError(_, ?M:store(S, (make_operation(#{}))#{nodes_data := [{"not an atom", []}]})),
    ?assertError(_, ?M:store(S, (make_operation(#{}))#{completed_nodes := not_a_mapset})),
    Op = two_node_op(#{options => not_a_list}),
    ?assertError(_, ?M:handle_await(?M:store(S, Op), ref(Op), From)),
    S1 = ?M:remove(S, make_ref()),
    ?assertEqual({noreply, S1}, ?M:handle_response(S1, make_ref(), 42, [])).

%%====================================================================
%% The layout: bookkeeping in the tracker, the payload on the heap
%%====================================================================

%% An operation whose node1 was sent N children (each with a child_spec) and node2 none.
payload_op(N) ->
    Kids = [#{child_id => {k, I}, child_spec => #{id => {k, I}, start => {m, f, [I]}}}
            || I <- lists:seq(1, N)],
    make_operation(#{nodes_data => [{node1, Kids}, {node2, []}],
                     sub_requests => [sub_request(node1, nil, dispatched, Kids),
                                      sub_request(node2, nil, dispatched, [])]}).

%% The stored operation is kept as the very term given (no copy, no packing): get/2 gives
%% it back as the same term, a response's results are the same term in the view, and the
%% tracker's native memory does not grow with the payload.
stored_op_is_not_copied_test() ->
    Op = payload_op(3000),
    S = ?M:store(new_state(tracker), Op),
    ?assert(erts_debug:same(Op, ?M:get(S, ref(Op)))),
    Results = [{{k, I}, {ok, self()}} || I <- lists:seq(1, 1000)],
    {noreply, S1} = ?M:handle_response(S, ref(Op), node1, Results),
    [SR1, _] = maps:get(sub_requests, ?M:get(S1, ref(Op))),
    ?assert(erts_debug:same(Results, maps:get(results, SR1))),
    ?assert(erts_debug:same(maps:get(children, SR1),
                            maps:get(children, hd(maps:get(sub_requests, Op))))),
    %% The same operation with one child costs the table no more bytes than with 3000.
    SSmall = ?M:store(new_state(tracker), payload_op(1)),
    Bytes = fun(St) -> maps:get(bytes, phn_tracker:stats(phn_rm_tracker:tracker(St))) end,
    ?assert(Bytes(S) < Bytes(SSmall) + 256).

%% Every chunk's results, merged as phn_tracker itself concatenates them (one chunk as
%% sent; a chunk that is not a proper list joins the concatenation as one element), on
%% the node's first sub-request, in arrival order, at completion and in get/2.
chunks_merged_as_the_tracker_does_test() ->
    Sequences = [[[a]], [x], [[a], [b, c], [d]], [x, [b]], [[a], x], [[a | z], [c]],
                 [[], [a]], [[a], []], [{t}, {u}, [v]]],
    [begin
         Op = big_op(length(Chunks) * 1000, #{}),
         T = phn_tracker:new(),
         ok = phn_tracker:track(T, r, [{node1, length(Chunks)}], #{timeout_ms => 60000}),
         Native = lists:foldl(fun(C, _) -> phn_tracker:record(T, r, node1, C) end, none, Chunks),
         {complete, [{node1, Expected}]} = Native,
         S = lists:foldl(fun(C, Acc) ->
                                 {noreply, Acc1} = ?M:handle_response(Acc, ref(Op), node1, C),
                                 Acc1
                         end, state_with(tracker, [Op]), Chunks),
         [SR1, _] = maps:get(sub_requests, ?M:get(S, ref(Op))),
         ?assertEqual({Chunks, Expected}, {Chunks, maps:get(results, SR1)}),
         ?assertEqual([node1], members(maps:get(completed_nodes, ?M:get(S, ref(Op)))))
     end || Chunks <- Sequences].

%% A node listed twice with two sub-requests owes both's chunks; its results go to the
%% first sub-request, [] to the second, as in phn_rm_tracker:view/1.
duplicate_node_subrequests_test() ->
    Kids = fun(From, To) -> [#{child_id => {k, I}} || I <- lists:seq(From, To)] end,
    Tag = make_ref(),
    Op = make_operation(#{nodes_data => [{node1, Kids(1, 1500)}],
                          sub_requests => [sub_request(node1, nil, dispatched, Kids(1, 1500)),
                                           sub_request(node1, nil, dispatched, Kids(1501, 1600))],
                          awaiter => {self(), Tag}}),
    ?assertEqual([{node1, 3}], phn_rm_tracker:expected(Op)),
    S = lists:foldl(fun({F, L}, Acc) ->
                            {noreply, Acc1} = ?M:handle_response(Acc, ref(Op), node1, chunk_results(F, L)),
                            Acc1
                    end, state_with(tracker, [Op]), [{1, 1000}, {1001, 1500}, {1501, 1600}]),
    ?assertEqual(0, pending(S)),
    {Tag, Reply} = recv(1000),
    ?assertEqual(1600, length(maps:get(started, Reply))).

%% The chunk counts of expected/1 are what split/1 makes, without building the chunks.
expected_counts_split_chunks_test() ->
    Ids = fun(N) -> [#{child_id => {k, I}} || I <- lists:seq(1, N)] end,
    Reqs = [sub_request(n, nil, dispatched, Ids(N)) || N <- [0, 1, 999, 1000, 1001, 2500, 3000]]
        ++ [phn_test_helpers:stop_sub_request(n, nil, dispatched, Ids(N)) || N <- [0, 1000, 1001]]
        ++ [(?PIDS_REG:'__struct__'())#{node => n, children_data => maps:from_list([{I, x} || I <- lists:seq(1, N)])}
            || N <- [0, 10000, 10001, 25000]]
        ++ [(?PIDS_UNREG:'__struct__'())#{node => n, removable_cid_nodes => lists:seq(1, N)}
            || N <- [0, 10000, 10001]],
    [?assertEqual([{n, length(?M:split(Req))}],
                  phn_rm_tracker:expected(make_operation(#{nodes_data => [{n, []}], sub_requests => [Req]})))
     || Req <- Reqs].

%% The operation finalize receives on completion is view/1's merge of every response,
%% whatever the shape: sub-requests following nodes_data one to one or not, a node listed
%% twice, a node already completed at store, a sub-request for a node outside nodes_data,
%% a node without a sub-request. The handler is this module: its result is the operation.
completion_merge_shapes_test() ->
    SR = fun(N) -> sub_request(N, nil, dispatched, [#{child_id => {N, 1}}]) end,
    Res = fun(N, K) -> [{{N, K}, {ok, self()}}] end,
    Shapes =
        [%% {nodes_data nodes, sub-request nodes, completed at store, responses in order}
         {[a, b, c], [a, b, c], [], [{c, 1}, {a, 1}, {b, 1}]},
         {[a, b, a], [a, b, a], [], [{a, 1}, {b, 1}, {a, 2}]},
         {[a, b, c], [a, b, c], [b], [{c, 1}, {a, 1}]},
         {[a, b], [a, b], [x], [{b, 1}, {a, 1}]},
         {[a, b], [a, z, b], [], [{b, 1}, {a, 1}]},
         {[a, b], [a], [], [{b, 1}, {a, 1}]},
         {[a], [a, a], [], [{a, 1}, {a, 2}]}],
    [begin
         Tag = make_ref(),
         Op = make_operation(#{nodes_data => [{N, []} || N <- Nodes],
                               sub_requests => [SR(N) || N <- SubNodes],
                               completed_nodes => Done, handler => ?MODULE,
                               awaiter => {self(), Tag}}),
         S = lists:foldl(fun({N, K}, Acc) ->
                                 {noreply, Acc1} = ?M:handle_response(Acc, ref(Op), N, Res(N, K)),
                                 Acc1
                         end, state_with(tracker, [Op]), Responses),
         ?assertEqual(0, pending(S)),
         {Tag, Final} = recv(1000),
         Collected = [{N, lists:append([Res(N, K) || {N1, K} <- Responses, N1 =:= N])}
                      || N <- lists:usort([N || {N, _} <- Responses])],
         ?assertEqual(phn_rm_tracker:view(#{meta => Op, collected => Collected, missing => []}),
                      Final)
     end || {Nodes, SubNodes, Done, Responses} <- Shapes].

%% The handler of completion_merge_shapes_test/0: the operation as it was finalized.
aggregate_results(Op) -> Op.
post_process(_Op, Result, _Hub) -> Result.

%%====================================================================
%% The two sides disagree (a caller went back to an older state): never a crash
%%====================================================================

%% The map holds the operation, the tracker no longer does (it completed from a newer
%% state): the operation is unknown, and each function that meets it drops it.
map_orphan_test() ->
    Tag = make_ref(),
    Op = two_node_op(#{awaiter => {self(), Tag}, options => [{timeout, 5000}]}),
    {noreply, S1} = ?M:handle_response(state_with(native, [Op]), ref(Op), node1, [{c1, {ok, self()}}]),
    {noreply, S2} = ?M:handle_response(S1, ref(Op), node2, [{c2, {ok, self()}}]),
    ?assertMatch({Tag, #{status := ok}}, recv(1000)),
    ?assertEqual(0, pending(S2)),
    T = phn_rm_tracker:tracker(S1),
    Orphan = fun(S) -> maps:keys(entries(S)) end,
    ?assertEqual([ref(Op)], Orphan(S1)),
    ?assertEqual(nil, ?M:get(S1, ref(Op))),
    {noreply, R1} = ?M:handle_response(S1, ref(Op), node2, [{c2, {ok, self()}}]),
    ?assertEqual([], Orphan(R1)),
    ?assertEqual({reply, {error, pending_request_not_found}},
                 erlang:delete_element(3, ?M:handle_await(S1, ref(Op), {self(), make_ref()}))),
    {reply, _, R2} = ?M:handle_await(S1, ref(Op), {self(), make_ref()}),
    ?assertEqual([], Orphan(R2)),
    {noreply, R3} = ?M:handle_timeout(S1, ref(Op), {self(), Tag}),
    ?assertEqual([], Orphan(R3)),
    ?assertEqual([], Orphan(?M:remove(S1, ref(Op)))),
    %% Stored again from the old state: tracked afresh, the stale response forgotten.
    R4 = ?M:store(S1, Op),
    ?assertEqual(1, pending(R4)),
    ?assertEqual(Op, ?M:get(R4, ref(Op))),
    ?assertEqual([], flush()),
    ?assertEqual(1, phn_tracker:size(T)).

%% The tracker holds the operation, the map does not (stored into a newer state the
%% caller dropped): unknown; the tracker's leftover is cancelled when met.
tracker_orphan_test() ->
    Op = two_node_op(#{}),
    S0 = ?M:remove(new_state(native), make_ref()),
    T = phn_rm_tracker:tracker(S0),
    _Newer = ?M:store(S0, Op),
    ?assertEqual(1, phn_tracker:size(T)),
    ?assertEqual(nil, ?M:get(S0, ref(Op))),
    ?assertEqual({noreply, S0}, ?M:handle_response(S0, ref(Op), node1, [{c1, {ok, self()}}])),
    ?assertEqual(0, phn_tracker:size(T)),
    _ = ?M:store(S0, Op),
    ?assertEqual({reply, {error, pending_request_not_found}, S0},
                 ?M:handle_await(S0, ref(Op), {self(), make_ref()})),
    ?assertEqual(0, phn_tracker:size(T)),
    _ = ?M:store(S0, Op),
    ?assertEqual({noreply, S0}, ?M:handle_timeout(S0, ref(Op), {self(), make_ref()})),
    ?assertEqual(0, phn_tracker:size(T)),
    %% A completing response for a leftover is ignored (no finalize, no reply).
    _ = ?M:store(S0, (one_node_op(#{awaiter => {self(), make_ref()}}))#{transaction_id := ref(Op)}),
    ?assertEqual({noreply, S0}, ?M:handle_response(S0, ref(Op), node(), [{child1, {ok, self()}}])),
    ?assertEqual([], flush()),
    %% Storing over a leftover tracks the operation afresh.
    _ = ?M:store(S0, Op),
    {noreply, _} = ?M:handle_response(S0, ref(Op), node1, [{c1, {ok, self()}}]),
    S1 = ?M:store(S0, Op),
    ?assertEqual(1, pending(S1)),
    ?assertEqual(Op, ?M:get(S1, ref(Op))),
    {noreply, S2} = ?M:handle_response(S1, ref(Op), node1, [{c1, {ok, self()}}]),
    ?assertEqual(1, pending(S2)).

%%====================================================================
%% A bare tracker, as README documents it, and the other state functions
%%====================================================================

%% pending_operations => phn_tracker:new(): the first state function wraps it; until an
%% operation is stored, every function sees an empty tracker mode.
bare_tracker_test() ->
    Bare = new_state(tracker),
    T = maps:get(pending_operations, Bare),
    Empty = {phn_pending, T, #{}, #{}, {16777216, 32}},
    Ref = make_ref(),
    From = {self(), make_ref()},
    ?assertEqual(nil, ?M:get(Bare, Ref)),
    ?assertEqual(T, phn_rm_tracker:tracker(Bare)),
    ?assertMatch(#{pending_operations := Empty}, ?M:remove(Bare, Ref)),
    ?assertMatch(#{pending_operations := Empty}, ?M:cleanup_expired(Bare)),
    ?assertMatch({noreply, #{pending_operations := Empty}}, ?M:handle_response(Bare, Ref, node1, [])),
    ?assertMatch({reply, {error, pending_request_not_found}, #{pending_operations := Empty}},
                 ?M:handle_await(Bare, Ref, From)),
    ?assertMatch({noreply, #{pending_operations := Empty}}, ?M:handle_timeout(Bare, Ref, From)),
    Op = one_node_op(#{}),
    S = ?M:store(Bare#{other => kept}, Op),
    ?assertMatch(#{other := kept, pending_operations := {phn_pending, T, _, _, _}}, S),
    %% One node: counted on the heap, the tracker left alone.
    #{pending_operations := {phn_pending, T, Ops, Due, _}} = S,
    Deadline = maps:get(expires_at, Op),
    ?assertEqual(#{ref(Op) => {Op, [], #{node() => 1}, Deadline}}, Ops),
    ?assertEqual(#{Deadline => [ref(Op)]}, Due),
    ?assertEqual(0, phn_tracker:size(T)),
    %% With heap_max_nodes 0, in the tracker.
    N = ?M:store(new_state(native), Op),
    ?assertEqual(#{ref(Op) => {Op, []}}, entries(N)),
    ?assertMatch({ok, #{ref := _}}, phn_tracker:get(phn_rm_tracker:tracker(N), ref(Op))).

%% update/2 of a tracked operation replaces the operation and the deadline, keeping the
%% responses counted; cleanup_expired drops the expired ones from both sides, with their
%% responses, and leaves the others as they were.
update_and_cleanup_test_() ->
    [{atom_to_list(Kind), fun() -> update_and_cleanup(Kind) end} || Kind <- [tracker, native]].

update_and_cleanup(Kind) ->
    A = two_node_op(#{expires_at => 1000}),
    B = two_node_op(#{expires_at => 1000}),
    C = two_node_op(#{expires_at => nil}),
    S0 = state_with(Kind, [A, B, C]),
    {noreply, S1} = ?M:handle_response(S0, ref(A), node1, [{c1, {ok, self()}}]),
    {noreply, S2} = ?M:handle_response(S1, ref(B), node1, [{c1, {ok, self()}}]),
    {noreply, S3} = ?M:handle_response(S2, ref(C), node2, [{c2, {ok, self()}}]),
    %% B moves to 5000 and gets another hub_id; its response stays.
    S4 = ?M:update(S3, B#{expires_at := 5000, hub_id := moved}),
    GotB = ?M:get(S4, ref(B)),
    ?assertMatch(#{hub_id := moved, expires_at := 5000}, GotB),
    ?assertEqual([node1], members(maps:get(completed_nodes, GotB))),
    S5 = ?M:cleanup_expired(S4, 1001),
    ?assertEqual(2, pending(S5)),
    ?assertEqual(nil, ?M:get(S5, ref(A))),
    ?assertEqual(GotB, ?M:get(S5, ref(B))),
    ?assertEqual([node2], members(maps:get(completed_nodes, ?M:get(S5, ref(C))))),
    %% Nothing more expired: the state is returned as it was.
    ?assert(?M:cleanup_expired(S5, 1001) =:= S5),
    S6 = ?M:cleanup_expired(S5, 5001),
    ?assertEqual(1, pending(S6)),
    {noreply, S7} = ?M:handle_response(S6, ref(C), node1, [{c1, {ok, self()}}]),
    ?assertEqual(0, pending(S7)).

%% Ignored responses change nothing: the state comes back as it was, the responses kept
%% are those counted.
ignored_responses_keep_the_state_test_() ->
    [{atom_to_list(Kind), fun() -> ignored_responses_keep_the_state(Kind) end}
     || Kind <- [tracker, native]].

ignored_responses_keep_the_state(Kind) ->
    Op = two_node_op(#{}),
    {noreply, S1} = ?M:handle_response(state_with(Kind, [Op]), ref(Op), node1, [{c1, {ok, self()}}]),
    [?assert(?M:handle_response(S1, Ref, Node, [late]) =:= {noreply, S1})
     || {Ref, Node} <- [{ref(Op), node1}, {ref(Op), stranger}, {make_ref(), node2}]],
    ?assertMatch([[{node1, [{c1, _}]}]], [element(2, E) || E <- maps:values(entries(S1))]).

%% A response's Ref comes from a cluster member: whatever term it is (one the tracker would
%% refuse as a key: a fun, a big binary, a long list, a bignum), tracker mode ignores it as
%% map mode does, and so do the local state functions. On the old code these raised badarg
%% from the NIF's key check.
hostile_refs_ignored_test_() ->
    [{atom_to_list(Kind), fun() -> hostile_refs_ignored(Kind) end} || Kind <- [tracker, native]].

hostile_refs_ignored(Kind) ->
    Op = two_node_op(#{}),
    S = state_with(Kind, [Op]),
    Hostile = [fun() -> ok end, binary:copy(<<1>>, 1 bsl 20), lists:seq(1, 100000),
               1 bsl 200, <<1:3>>, {make_ref(), lists:seq(1, 1000)}],
    From = {self(), make_ref()},
    [begin
         ?assertEqual({noreply, S}, ?M:handle_response(S, R, node1, [{c1, {ok, self()}}])),
         ?assertEqual(nil, ?M:get(S, R)),
         ?assertEqual(S, ?M:remove(S, R)),
         ?assertEqual({reply, {error, pending_request_not_found}, S}, ?M:handle_await(S, R, From)),
         ?assertEqual({noreply, S}, ?M:handle_timeout(S, R, From))
     end || R <- Hostile],
    ?assertEqual(1, pending(S)),
    ?assertEqual(Op, ?M:get(S, ref(Op))).

%%====================================================================
%% Default mode: ProcessHub starts pending_operations as %{}
%%====================================================================

with_default_mode(Mode, Fun) ->
    ?assertEqual(map, ?M:default_mode()),
    ok = ?M:set_default_mode(Mode),
    try Fun() after ok = ?M:set_default_mode(map) end.

default_mode_setting_test() ->
    ?assertEqual(map, ?M:default_mode()),
    with_default_mode(tracker, fun() -> ?assertEqual(tracker, ?M:default_mode()) end),
    ?assertEqual(map, ?M:default_mode()),
    %% docs/errors.md: badarg, with the argument named.
    try ?M:set_default_mode(bogus) of
        V -> erlang:error({no_raise, V})
    catch
        error:badarg:St ->
            ?assertEqual(#{1 => "Mode: not one of map, tracker, cnode"},
                         phn_errors:format_error(badarg, St))
    end,
    ?assertEqual(map, ?M:default_mode()),
    %% In the default mode map, a map state stays ProcessHub's map.
    Op = one_node_op(#{}),
    ?assertEqual(#{ref(Op) => Op}, maps:get(pending_operations, ?M:store(hub_state(#{}), Op))),
    ?assertEqual(#{ref(Op) => Op}, maps:get(pending_operations, ?M:update(hub_state(#{}), Op))).

%% In the default mode tracker, the first store on an empty map takes the state over: a
%% tracker owned by the caller, and every REFERENCE case runs as in tracker mode.
default_tracker_takes_over_empty_map_test() ->
    with_default_mode(tracker, fun() ->
        Op = big_op(2500, #{}),
        S = ?M:store(hub_state(#{}), Op),
        ?assertMatch(#{pending_operations := {phn_pending, _, #{}, #{}, _}}, S),
        T = phn_rm_tracker:tracker(S),
        ?assertEqual(self(), maps:get(owner, phn_tracker:stats(T))),
        ?assertEqual(1, pending(S)),
        ?assert(erts_debug:same(Op, ?M:get(S, ref(Op)))),
        %% Chunk-aware: node1 owes 3 chunks.
        {noreply, S1} = ?M:handle_response(S, ref(Op), node1, chunk_results(1, 1000)),
        {noreply, S2} = ?M:handle_response(S1, ref(Op), node2, [{c2, {ok, self()}}]),
        ?assertEqual(1, pending(S2))
    end),
    %% The tests of this module, run with the map state in the default mode tracker, give
    %% tracker mode's results.
    Op2 = two_node_op(#{}),
    Run = fun() ->
              S0 = ?M:store(hub_state(#{}), Op2),
              {noreply, S1} = ?M:handle_response(S0, ref(Op2), stranger, [x]),
              {noreply, S2} = ?M:handle_response(S1, ref(Op2), node1, [{c1, {ok, self()}}]),
              {noreply, S3} = ?M:handle_response(S2, ref(Op2), node2, [{c2, {ok, self()}}]),
              pending(S3)
          end,
    ?assertEqual(1, Run()),
    ?assertEqual(0, with_default_mode(tracker, Run)).

%% Operations already pending in the map when the state is taken over finish in map mode
%% (ProcessHub's outcome, responses, awaits, timeouts and expiry included); once the last
%% is gone the layout is tracker mode's alone.
default_tracker_keeps_legacy_ops_test() ->
    Tag = make_ref(),
    From = {self(), Tag},
    A = two_node_op(#{awaiter => {self(), Tag}}),
    B = two_node_op(#{options => [{timeout, 5000}]}),
    C = two_node_op(#{timeout => -1000}),
    New = two_node_op(#{}),
    Map0 = state_with(map, [A, B, C]),
    {noreply, Map1} = ?M:handle_response(Map0, ref(A), node1, [{c1, {ok, self()}}]),
    with_default_mode(tracker, fun() ->
        S0 = ?M:store(Map1, New),
        #{pending_operations := {phn_pending, T, #{}, _, _, Legacy}} = S0,
        ?assertEqual(lists:sort([ref(A), ref(B), ref(C)]), lists:sort(maps:keys(Legacy))),
        ?assertEqual([ref(New)], maps:keys(entries(S0))),
        ?assertEqual(?M:get(Map1, ref(A)), ?M:get(S0, ref(A))),
        ?assertEqual(New, ?M:get(S0, ref(New))),
        %% An update of a legacy op stays in the map, in map mode.
        S1 = ?M:update(S0, ?M:get(S0, ref(B))),
        ?assertEqual(Legacy#{ref(B) := ?M:get(S0, ref(B))}, element(6, maps:get(pending_operations, S1))),
        %% A completes in map mode: a stranger's response joins completed_nodes there.
        {noreply, S2} = ?M:handle_response(S1, ref(A), stranger, [x]),
        ?assertEqual([node1, stranger], members(maps:get(completed_nodes, ?M:get(S2, ref(A))))),
        %% (map mode: the stranger makes "all responded" false for ever: never completes.)
        {noreply, S3} = ?M:handle_response(S2, ref(A), node2, [{c2, {ok, self()}}]),
        ?assertEqual([node1, node2, stranger],
                     members(maps:get(completed_nodes, ?M:get(S3, ref(A))))),
        ?assertEqual([], flush()),
        S5 = ?M:remove(S3, ref(A)),
        ?assertEqual(nil, ?M:get(S5, ref(A))),
        %% B: await deferred, then its timeout answers, in map mode.
        {noreply, S6} = ?M:handle_await(S5, ref(B), From),
        ?assertEqual(From, maps:get(awaiter, ?M:get(S6, ref(B)))),
        {noreply, S7} = ?M:handle_timeout(S6, ref(B), From),
        ?assertMatch([{Tag, #{status := error}}], flush()),
        ?assertEqual(nil, ?M:get(S7, ref(B))),
        %% C expires (legacy) while New stays (tracker); the legacy map is then gone.
        S8 = ?M:cleanup_expired(S7),
        ?assertMatch(#{pending_operations := {phn_pending, T, _, _, _}}, S8),
        ?assertEqual(1, pending(S8)),
        %% New completes in tracker mode.
        {noreply, S9} = ?M:handle_response(S8, ref(New), node1, [{c1, {ok, self()}}]),
        {noreply, S10} = ?M:handle_response(S9, ref(New), node2, [{c2, {ok, self()}}]),
        ?assertEqual(0, pending(S10))
    end).

%% Every state function on the legacy layout, for an op on each side, and the flush of
%% await_timeout timers.
default_tracker_legacy_layout_test() ->
    Old = one_node_op(#{}),
    New = one_node_op(#{}),
    Map = state_with(map, [Old]),
    with_default_mode(tracker, fun() ->
        S0 = ?M:store(Map, New),
        ?assertMatch(#{pending_operations := {phn_pending, _, _, _, _, _}}, S0),
        %% The tracked op answers in tracker mode while the legacy one waits.
        {noreply, S1} = ?M:handle_response(S0, ref(New), node(), [{child1, {ok, self()}}]),
        ?assertEqual(nil, ?M:get(S1, ref(New))),
        ?assertEqual(Old, ?M:get(S1, ref(Old))),
        ?assertMatch({reply, {error, pending_request_not_found}, _},
                     ?M:handle_await(S1, make_ref(), {self(), make_ref()})),
        ?assertMatch({noreply, _}, ?M:handle_timeout(S1, make_ref(), {self(), make_ref()})),
        S2 = ?M:remove(S1, make_ref()),
        ?assertMatch(#{pending_operations := {phn_pending, _, _, _, _, #{}}}, S2),
        %% The legacy one completes: the layout becomes tracker mode's alone.
        {noreply, S3} = ?M:handle_response(S2, ref(Old), node(), [{child1, {ok, self()}}]),
        ?assertMatch(#{pending_operations := {phn_pending, _, #{}, #{}, _}}, S3),
        ?assertEqual(0, pending(S3))
    end).
