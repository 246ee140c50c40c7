%% @doc REFERENCE.md §6.1 cases 1–7: state management, cleanup_expired, expired?.
%% Every test runs against phn_request_manager_erl and phn_request_manager.
-module(phn_01_state_tests).

-include("phn_test.hrl").

-import(phn_test_helpers, [hub_state/1, make_operation/0, make_operation/1, now_ms/0]).

%% Case 1: store into an empty state -> key transaction_id present, maps to Op.
store_into_empty_state_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(),
        #{transaction_id := Ref} = Op,
        S = M:store(hub_state(#{}), Op),
        ?assertEqual(#{Ref => Op}, maps:get(pending_operations, S)),
        ?assertEqual(test_hub, maps:get(hub_id, S))
    end).

%% Case 2: store into a state holding op1 -> two entries.
store_second_operation_test_() ->
    ?FOR_MODS(fun(M) ->
        Op1 = make_operation(),
        Op2 = make_operation(),
        S = M:store(M:store(hub_state(#{}), Op1), Op2),
        P = maps:get(pending_operations, S),
        ?assertEqual(2, map_size(P)),
        ?assertEqual(Op1, maps:get(maps:get(transaction_id, Op1), P)),
        ?assertEqual(Op2, maps:get(maps:get(transaction_id, Op2), P))
    end).

%% Store keeps every other key of the state untouched.
store_keeps_other_state_keys_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(),
        S0 = (hub_state(#{}))#{other => [1, 2, 3], '__struct__' => 'Elixir.ProcessHub.Hub'},
        S = M:store(S0, Op),
        ?assertEqual(maps:remove(pending_operations, S0),
                     maps:remove(pending_operations, S))
    end).

%% Case 3: get existing -> the op; get unknown ref -> nil.
get_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(),
        S = M:store(hub_state(#{}), Op),
        ?assertEqual(Op, M:get(S, maps:get(transaction_id, Op))),
        ?assertEqual(nil, M:get(S, make_ref()))
    end).

%% Case 4: update an op with hub_id = updated_hub -> the stored op has updated_hub.
update_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(),
        Ref = maps:get(transaction_id, Op),
        S0 = M:store(hub_state(#{}), Op),
        S = M:update(S0, Op#{hub_id := updated_hub}),
        ?assertEqual(updated_hub, maps:get(hub_id, M:get(S, Ref))),
        ?assertEqual(1, map_size(maps:get(pending_operations, S)))
    end).

%% Case 5: remove existing -> #{}; remove unknown ref -> #{} and no crash.
remove_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(),
        S = M:store(hub_state(#{}), Op),
        S1 = M:remove(S, maps:get(transaction_id, Op)),
        ?assertEqual(#{}, maps:get(pending_operations, S1)),
        S2 = M:remove(S1, make_ref()),
        ?assertEqual(#{}, maps:get(pending_operations, S2)),
        ?assertEqual(hub_state(#{}), M:remove(hub_state(#{}), make_ref()))
    end).

%% Case 6: cleanup_expired: expired op removed, valid op kept, mixed -> only valid one.
cleanup_expired_test_() ->
    ?FOR_MODS(fun(M) ->
        Expired = make_operation(#{expires_at => now_ms() - 1000}),
        Valid = make_operation(#{expires_at => now_ms() + 60000}),
        S1 = M:cleanup_expired(M:store(hub_state(#{}), Expired)),
        ?assertEqual(#{}, maps:get(pending_operations, S1)),
        S2 = M:cleanup_expired(M:store(hub_state(#{}), Valid)),
        ?assertEqual(#{maps:get(transaction_id, Valid) => Valid},
                     maps:get(pending_operations, S2)),
        S3 = M:cleanup_expired(M:store(M:store(hub_state(#{}), Expired), Valid)),
        ?assertEqual(#{maps:get(transaction_id, Valid) => Valid},
                     maps:get(pending_operations, S3))
    end).

%% Case 6 (boundary, fixed clock): equal is not expired; nil expires_at never expires;
%% cleanup sends nothing to awaiters.
cleanup_expired_fixed_clock_test_() ->
    ?FOR_MODS(fun(M) ->
        Ref = make_ref(),
        AtNow = make_operation(#{expires_at => 1000}),
        Past = make_operation(#{expires_at => 999, awaiter => {self(), Ref}}),
        Nil = make_operation(#{expires_at => nil}),
        S0 = lists:foldl(fun(O, S) -> M:store(S, O) end, hub_state(#{}), [AtNow, Past, Nil]),
        S = M:cleanup_expired(S0, 1000),
        ?assertEqual(lists:sort([maps:get(transaction_id, AtNow),
                                 maps:get(transaction_id, Nil)]),
                     lists:sort(maps:keys(maps:get(pending_operations, S)))),
        ?assertEqual(timeout, phn_test_helpers:recv(50)),
        ?assertEqual([maps:get(transaction_id, Nil)],
                     maps:keys(maps:get(pending_operations, M:cleanup_expired(S, 1001))))
    end).

%% Case 6 also keeps other state keys and works on an empty state.
cleanup_expired_empty_test_() ->
    ?FOR_MODS(fun(M) ->
        S0 = (hub_state(#{}))#{extra => x},
        ?assertEqual(S0, M:cleanup_expired(S0))
    end).

%% Case 7: expired?: +60000 -> false; -1000 -> true.
expired_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertNot(M:'expired?'(make_operation(#{expires_at => now_ms() + 60000}))),
        ?assert(M:'expired?'(make_operation(#{expires_at => now_ms() - 1000}))),
        %% plain maps are accepted
        ?assert(M:'expired?'(#{expires_at => now_ms() - 1000})),
        ?assertNot(M:'expired?'(#{expires_at => nil}))
    end).

%% Case 7 (boundary, fixed clock): strict comparison.
expired_fixed_clock_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertNot(M:'expired?'(#{expires_at => 1000}, 1000)),
        ?assert(M:'expired?'(#{expires_at => 999}, 1000)),
        ?assertNot(M:'expired?'(#{expires_at => 1001}, 1000))
    end).

%% Bad input raises an error, never returns garbage.
bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(),
        Ref = maps:get(transaction_id, Op),
        ?assertError(_, M:store(not_a_map, Op)),
        ?assertError(_, M:store(#{}, Op)),
        ?assertError(_, M:store(#{pending_operations => [x]}, Op)),
        ?assertError(_, M:store(hub_state(#{}), #{no_tx => 1})),
        ?assertError(_, M:store(hub_state(#{}), not_a_map)),
        ?assertError(_, M:update(not_a_map, Op)),
        ?assertError(_, M:get(not_a_map, Ref)),
        ?assertError(_, M:get(#{}, Ref)),
        ?assertError(_, M:get(#{pending_operations => nil}, Ref)),
        ?assertError(_, M:remove(not_a_map, Ref)),
        ?assertError(_, M:remove(#{}, Ref)),
        ?assertError(_, M:remove(#{pending_operations => [x]}, Ref)),
        ?assertError(_, M:cleanup_expired(not_a_map)),
        ?assertError(_, M:cleanup_expired(#{})),
        ?assertError(_, M:cleanup_expired(#{pending_operations => [x]})),
        ?assertError(_, M:cleanup_expired(hub_state(#{r => not_a_map}))),
        ?assertError(_, M:cleanup_expired(hub_state(#{r => #{no_expiry => 1}}))),
        ?assertError(_, M:'expired?'(not_a_map)),
        ?assertError(_, M:'expired?'(#{}))
    end).
