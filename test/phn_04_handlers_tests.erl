%% @doc REFERENCE.md §6.1 cases 23–34: handle_response, handle_await, handle_timeout
%% (v0.5.0-beta / b3d3699 semantics), and finalize. Case 26 (result retention) is
%% [version]-only; its v0.5.0-beta counterpart is asserted instead.
%% Every test runs against both implementations.
-module(phn_04_handlers_tests).

-include("phn_test.hrl").

-import(phn_test_helpers, [hub_state/1, make_operation/1, sub_request/4, stop_sub_request/4,
                           mapset/1, members/1, recv/1, one_node_op/1, two_node_op/1]).

state_with(M, Op) ->
    M:store(hub_state(#{}), Op).

ref(Op) -> maps:get(transaction_id, Op).

%% Case 23: unknown ref -> {noreply, State} identical.
handle_response_unknown_ref_test_() ->
    ?FOR_MODS(fun(M) ->
        S = state_with(M, one_node_op(#{})),
        ?assertEqual({noreply, S}, M:handle_response(S, make_ref(), node(), [x])),
        S0 = hub_state(#{}),
        ?assertEqual({noreply, S0}, M:handle_response(S0, make_ref(), node(), []))
    end).

%% Case 24: single-node op, its response completes it -> pending_operations == #{}.
handle_response_completes_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = one_node_op(#{}),
        S = (state_with(M, Op))#{other => kept},
        {noreply, S1} = M:handle_response(S, ref(Op), node(), [{child1, {ok, self()}}]),
        ?assertEqual(#{}, maps:get(pending_operations, S1)),
        ?assertEqual(kept, maps:get(other, S1)),
        ?assertEqual(timeout, recv(20))
    end).

%% Case 25: two-node op, response from node1 -> op kept, node1 completed, node2 not.
handle_response_pending_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = two_node_op(#{}),
        {noreply, S1} = M:handle_response(state_with(M, Op), ref(Op), node1, [{c1, {ok, self()}}]),
        Op1 = M:get(S1, ref(Op)),
        ?assertEqual([node1], members(maps:get(completed_nodes, Op1))),
        [SR1, SR2] = maps:get(sub_requests, Op1),
        ?assertEqual({[{c1, {ok, self()}}], completed},
                     {maps:get(results, SR1), maps:get(status, SR1)}),
        ?assertEqual({nil, dispatched}, {maps:get(results, SR2), maps:get(status, SR2)}),
        {noreply, S2} = M:handle_response(S1, ref(Op), node2, [{c2, {ok, self()}}]),
        ?assertEqual(#{}, maps:get(pending_operations, S2))
    end).

%% Case 26 (v0.5.0-beta instead of [version] retention): a completed op without awaiter
%% is removed even with awaitable true and timeout 0; a second response is ignored and
%% a later await finds nothing.
handle_response_no_retention_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = one_node_op(#{options => [{awaitable, true}, {timeout, 0}]}),
        {noreply, S1} = M:handle_response(state_with(M, Op), ref(Op), node(),
                                          [{child1, {ok, self()}}]),
        ?assertEqual(#{}, maps:get(pending_operations, S1)),
        ?assertEqual({noreply, S1},
                     M:handle_response(S1, ref(Op), node(), [{child2, {ok, self()}}])),
        ?assertEqual({reply, {error, pending_request_not_found}, S1},
                     M:handle_await(S1, ref(Op), {self(), make_ref()}))
    end).

%% Case 27: op with awaiter {self(), Ref}; the completing response replies
%% {Ref, %StartResult{}} and empties pending.
handle_response_replies_to_awaiter_test_() ->
    ?FOR_MODS(fun(M) ->
        Tag = make_ref(),
        Pid = self(),
        Op = one_node_op(#{awaiter => {self(), Tag}}),
        {noreply, S1} = M:handle_response(state_with(M, Op), ref(Op), node(),
                                          [{child1, {ok, Pid}}]),
        ?assertEqual(#{}, maps:get(pending_operations, S1)),
        Reply = receive {Tag, R} -> R after 1000 -> no_reply end,
        ?assertMatch(#{'__struct__' := ?START_RESULT, status := ok, errors := [],
                       rollback := false}, Reply),
        ?assertEqual([{child1, [{node(), Pid}]}], maps:get(started, Reply))
    end).

%% Case 27 (alias tags): an OTP 24+ alias tag is answered through the alias.
handle_response_replies_to_alias_test_() ->
    ?FOR_MODS(fun(M) ->
        Alias = erlang:alias(),
        Tag = [alias | Alias],
        Op = one_node_op(#{awaiter => {self(), Tag}}),
        {noreply, _} = M:handle_response(state_with(M, Op), ref(Op), node(),
                                         [{child1, {error, boom}}]),
        Reply = receive {Tag, R} -> R after 1000 -> no_reply end,
        erlang:unalias(Alias),
        ?assertMatch(#{'__struct__' := ?START_RESULT, status := error,
                       errors := [{child1, boom}]}, Reply)
    end).

%% Cases 24/27: finalize runs on completion with the state as hub; rollback is reported.
handle_response_finalize_rollback_test_() ->
    ?FOR_MODS(fun(M) ->
        Tag = make_ref(),
        Op = two_node_op(#{awaiter => {self(), Tag}, options => [{on_failure, rollback}]}),
        {noreply, S1} = M:handle_response(state_with(M, Op), ref(Op), node1,
                                          [{c1, {ok, self()}}]),
        {noreply, S2} = M:handle_response(S1, ref(Op), node2, [{c2, {error, crash}}]),
        ?assertEqual(#{}, maps:get(pending_operations, S2)),
        Reply = receive {Tag, R} -> R after 1000 -> no_reply end,
        ?assertMatch(#{status := error, rollback := true, errors := [{c2, crash}]}, Reply)
    end).

%% Case 28: unknown ref -> {reply, {error, pending_request_not_found}, State} identical.
handle_await_unknown_ref_test_() ->
    ?FOR_MODS(fun(M) ->
        S = state_with(M, one_node_op(#{})),
        ?assertEqual({reply, {error, pending_request_not_found}, S},
                     M:handle_await(S, make_ref(), {self(), make_ref()}))
    end).

%% Case 29: all responded -> {reply, %StartResult{status: ok}, S}, pending empty.
handle_await_all_responded_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(#{completed_nodes => [node()],
                              sub_requests => [sub_request(node(), [{child1, {ok, self()}}],
                                                           completed, [#{child_id => child1}])]}),
        {reply, Reply, S1} = M:handle_await(state_with(M, Op), ref(Op), {self(), make_ref()}),
        ?assertMatch(#{'__struct__' := ?START_RESULT, status := ok}, Reply),
        ?assertEqual(#{}, maps:get(pending_operations, S1))
    end).

%% Case 30: nothing answered, timeout 0 -> immediate partial result, pending empty.
handle_await_timeout_zero_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = two_node_op(#{options => [{timeout, 0}]}),
        {reply, Reply, S1} = M:handle_await(state_with(M, Op), ref(Op), {self(), make_ref()}),
        ?assertMatch(#{'__struct__' := ?START_RESULT, status := error, started := []}, Reply),
        ?assertEqual([{c2, {error, no_response}}, {c1, {error, no_response}}],
                     maps:get(errors, Reply)),
        ?assertEqual(#{}, maps:get(pending_operations, S1))
    end).

%% Case 31: timeout 5000 -> {noreply, S} with the stored op's awaiter == From.
handle_await_defers_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = two_node_op(#{options => [{timeout, 5000}]}),
        From = {self(), make_ref()},
        {noreply, S1} = M:handle_await(state_with(M, Op), ref(Op), From),
        ?assertEqual(From, maps:get(awaiter, M:get(S1, ref(Op)))),
        ?assertEqual(Op#{awaiter := From}, M:get(S1, ref(Op)))
    end).

%% Case 31 (timer): the await timer sends {await_timeout, Ref, From} to self();
%% a second await overwrites the awaiter (quirk); default timeout is 5000 (no message yet).
handle_await_timer_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = two_node_op(#{options => [{timeout, 20}]}),
        From1 = {self(), make_ref()},
        From2 = {self(), make_ref()},
        {noreply, S1} = M:handle_await(state_with(M, Op), ref(Op), From1),
        {noreply, S2} = M:handle_await(S1, ref(Op), From2),
        ?assertEqual(From2, maps:get(awaiter, M:get(S2, ref(Op)))),
        Ref = ref(Op),
        ?assertEqual({await_timeout, Ref, From1}, recv(1000)),
        ?assertEqual({await_timeout, Ref, From2}, recv(1000)),
        Op2 = two_node_op(#{}),
        {noreply, _} = M:handle_await(state_with(M, Op2), ref(Op2), From1),
        ?assertEqual(timeout, recv(100))
    end).

%% Case 32: unknown ref -> {noreply, State} identical.
handle_timeout_unknown_ref_test_() ->
    ?FOR_MODS(fun(M) ->
        S = state_with(M, one_node_op(#{})),
        ?assertEqual({noreply, S}, M:handle_timeout(S, make_ref(), {self(), make_ref()}))
    end).

%% Case 33: awaiter From, SR unanswered -> reply {Ref, %StartResult{}} with a
%% no_response error, pending empty.
handle_timeout_replies_test_() ->
    ?FOR_MODS(fun(M) ->
        Tag = make_ref(),
        From = {self(), Tag},
        Op = one_node_op(#{awaiter => From}),
        {noreply, S1} = M:handle_timeout(state_with(M, Op), ref(Op), From),
        ?assertEqual(#{}, maps:get(pending_operations, S1)),
        Reply = receive {Tag, R} -> R after 1000 -> no_reply end,
        ?assertMatch(#{'__struct__' := ?START_RESULT, status := error,
                       errors := [{child1, {error, no_response}}]}, Reply)
    end).

%% Case 34: awaiter From1, timeout for From2 -> {noreply, State} identical (also nil).
handle_timeout_other_awaiter_test_() ->
    ?FOR_MODS(fun(M) ->
        From1 = {self(), make_ref()},
        From2 = {self(), make_ref()},
        S = state_with(M, one_node_op(#{awaiter => From1})),
        [{Ref, _}] = maps:to_list(maps:get(pending_operations, S)),
        ?assertEqual({noreply, S}, M:handle_timeout(S, Ref, From2)),
        SNil = state_with(M, one_node_op(#{})),
        [{RefNil, _}] = maps:to_list(maps:get(pending_operations, SNil)),
        ?assertEqual({noreply, SNil}, M:handle_timeout(SNil, RefNil, From2)),
        ?assertEqual(timeout, recv(20))
    end).

%% finalize: aggregate_results then post_process (Start and Stop handlers).
finalize_test_() ->
    ?FOR_MODS(fun(M) ->
        Pid = self(),
        Start = make_operation(#{sub_requests =>
                                     [sub_request(n1, [{a, {ok, Pid}}, {b, {error, x}}],
                                                  completed, []),
                                      sub_request(n2, nil, dispatched, [#{child_id => c}])]}),
        ?assertEqual(#{'__struct__' => ?START_RESULT, status => error,
                       started => [{a, [{n1, Pid}]}],
                       errors => [{c, {error, no_response}}, {b, x}], rollback => false},
                     M:finalize(Start, hub_state(#{}))),
        Stop = make_operation(#{handler => ?STOP_REQ,
                                options => [{not_found_children, [gone]}],
                                sub_requests =>
                                    [stop_sub_request(n1, [{a, ok}], completed, []),
                                     stop_sub_request(n2, nil, dispatched,
                                                      [#{child_id => b}])]}),
        ?assertEqual(#{'__struct__' => ?STOP_RESULT, status => error, stopped => [{a, [n1]}],
                       errors => [{b, {error, no_response}}, {gone, {error, not_found}}]},
                     M:finalize(Stop, hub_state(#{})))
    end).

%% A stop operation end to end: not-found only (nodes_data []) awaits immediately.
handle_await_stop_not_found_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(#{handler => ?STOP_REQ, nodes_data => [],
                              options => [{not_found_children, [x]}, {timeout, 10000}]}),
        {reply, Reply, S1} = M:handle_await(state_with(M, Op), ref(Op), {self(), make_ref()}),
        ?assertEqual(#{'__struct__' => ?STOP_RESULT, status => error, stopped => [],
                       errors => [{x, {error, not_found}}]}, Reply),
        ?assertEqual(#{}, maps:get(pending_operations, S1))
    end).

%% Bad input raises.
bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        From = {self(), make_ref()},
        Ref = make_ref(),
        ?assertError(_, M:handle_response(not_a_map, Ref, n, [])),
        ?assertError(_, M:handle_response(#{}, Ref, n, [])),
        ?assertError(_, M:handle_await(not_a_map, Ref, From)),
        ?assertError(_, M:handle_await(#{}, Ref, From)),
        ?assertError(_, M:handle_timeout(not_a_map, Ref, From)),
        ?assertError(_, M:handle_timeout(#{}, Ref, From)),
        %% a stored entry that is not an operation
        Bad = hub_state(#{Ref => #{transaction_id => Ref}}),
        ?assertError(_, M:handle_response(Bad, Ref, n, [])),
        ?assertError(_, M:handle_await(Bad, Ref, From)),
        ?assertError(_, M:handle_timeout(Bad, Ref, From)),
        %% non-list options in a stored operation
        Op = two_node_op(#{options => not_a_list}),
        ?assertError(_, M:handle_await(state_with(M, Op), ref(Op), From)),
        ?assertError(_, M:finalize(#{}, hub_state(#{}))),
        ?assertError(_, M:finalize(not_a_map, hub_state(#{})))
    end).
