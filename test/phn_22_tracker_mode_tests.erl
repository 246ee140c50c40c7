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

%%====================================================================
%% Harness
%%====================================================================

new_state(map) -> hub_state(#{});
new_state(tracker) -> hub_state(phn_tracker:new()).

pending(#{pending_operations := P}) when is_map(P) -> map_size(P);
pending(#{pending_operations := T}) -> phn_tracker:size(T).

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
    S = state_with(tracker, [Op]),
    {noreply, S} = ?M:handle_response(S, ref(Op), node1, chunk_results(2001, 2500)),
    {noreply, S} = ?M:handle_response(S, ref(Op), node1, chunk_results(1, 1000)),
    Got = ?M:get(S, ref(Op)),
    [SR1, SR2] = maps:get(sub_requests, Got),
    ?assertEqual(chunk_results(2001, 2500) ++ chunk_results(1, 1000), maps:get(results, SR1)),
    ?assertEqual(dispatched, maps:get(status, SR1)),
    ?assertEqual(SR2, lists:nth(2, maps:get(sub_requests, Op))),
    ?assertEqual([], members(maps:get(completed_nodes, Got))),
    %% An await with timeout 0 now answers with what arrived: the missing chunk's children
    %% are absent (as in map mode, which would also have lost the first chunk's).
    S = ?M:update(S, Got#{options := [{timeout, 0}]}),
    {reply, R, S} = ?M:handle_await(S, ref(Op), {self(), make_ref()}),
    ?assertEqual(1500, length(maps:get(started, R))),
    ?assertEqual([{c2, {error, no_response}}], maps:get(errors, R)),
    ?assertEqual(0, pending(S)).

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
    {TrPending, TrReply, TrS} = Run(tracker),
    ?assertEqual({1, none}, {MapPending, MapReply}),
    ?assertEqual([node1, node2, stranger],
                 members(maps:get(completed_nodes, ?M:get(MapS, ref(Op))))),
    ?assertEqual(0, TrPending),
    ?assertMatch(#{status := ok, errors := []}, TrReply),
    ?assertEqual(2, length(maps:get(started, TrReply))),
    ?assertMatch(#{ignored := #{unexpected_node := 1}},
                 phn_tracker:stats(maps:get(pending_operations, TrS))).

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
    ?assertEqual([{c1, {ok, self()}}], Run(tracker)).

%% Tracker mode's caps: past max_ops, store raises {phn_tracker, limit}.
store_past_cap_test() ->
    S = hub_state(phn_tracker:new(#{max_ops => 1})),
    S = ?M:store(S, make_operation(#{})),
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
    ?assertEqual({noreply, S}, ?M:handle_response(S, make_ref(), 42, [])).

%%====================================================================
%% The kept operation: children shared with nodes_data are kept once
%%====================================================================

%% pack/1 then unpack/1 gives the operation back exactly, whatever shares what; the
%% tracker returns it from get/2 as stored.
pack_round_trip_test() ->
    Kids = fun(Tag, N) -> [#{child_id => {Tag, I}} || I <- lists:seq(1, N)] end,
    K1 = Kids(a, 50),
    K2 = Kids(b, 3),
    Shared = two_node_op(#{nodes_data => [{node1, K1}, {node2, K2}, {node1, Kids(c, 2)}],
                           sub_requests => [sub_request(node1, nil, dispatched, K1),
                                            sub_request(node2, nil, dispatched, Kids(z, 3)),
                                            sub_request(node1, nil, dispatched, Kids(c, 2)),
                                            sub_request(node3, nil, dispatched, K2)]}),
    Literal = two_node_op(#{sub_requests => [sub_request(node1, nil, dispatched, '$phn_shared'),
                                             sub_request(node2, nil, dispatched,
                                                         [#{child_id => c2}])]}),
    NoChildren = maps:remove(sub_requests, two_node_op(#{})),
    Ops = [Shared, Literal, NoChildren, two_node_op(#{}), one_node_op(#{}),
           two_node_op(#{nodes_data => [{node1, []}, {node2, not_a_list}]})],
    [?assertEqual(Op, phn_rm_tracker:unpack(phn_rm_tracker:pack(Op))) || Op <- Ops],
    ?assertMatch({'$phn_packed', _}, phn_rm_tracker:pack(Shared)),
    ?assertEqual(Literal, phn_rm_tracker:pack(Literal)),
    ?assert(erlang:external_size(phn_rm_tracker:pack(Shared)) < erlang:external_size(Shared)),
    S = ?M:store(new_state(tracker), Shared),
    ?assertEqual(Shared, ?M:get(S, ref(Shared))).
