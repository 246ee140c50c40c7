%% EUnit: every partition-strategy case of REFERENCE.md §6.4 through phn_partition (the
%% NIF over the C core), plus bad input. Node lists include the local node.
-module(phn_partition_tests).

-include_lib("eunit/include/eunit.hrl").

-define(NOW, 1700000000).

self_n() -> node().
nodes_n(0) -> [];
nodes_n(N) -> [self_n() | [list_to_atom("n" ++ integer_to_list(I)) || I <- lists:seq(2, N)]].

lock(S, Nodes, St) -> phn_partition:toggle_lock(S, Nodes, n5, St, ?NOW).
unlock(S, Nodes, St) -> phn_partition:toggle_unlock(S, Nodes, n5, St, ?NOW).
lock_v(S, Nodes, St) -> element(1, lock(S, Nodes, St)).
unlock_v(S, Nodes, St) -> element(1, unlock(S, Nodes, St)).

%%% StaticQuorum

static_quorum_3_test() ->
    S = phn_partition:static_quorum(3),
    St = phn_partition:new_state(),
    ?assert(lock_v(S, [self_n()], St)),
    ?assertNot(lock_v(S, nodes_n(3), St)),
    ?assertNot(lock_v(S, nodes_n(4), St)),
    ?assert(unlock_v(S, nodes_n(3), St)),
    ?assertNot(unlock_v(S, nodes_n(2), St)).

static_init_returns_strategy_test() ->
    S = phn_partition:static_quorum(3, false),
    ?assertEqual({S, false, #{}}, phn_partition:init(S, [self_n()])),
    %% startup_confirm without quorum: the hub partitions at startup.
    S2 = phn_partition:static_quorum(3, true),
    ?assertMatch({S2, true, _}, phn_partition:init(S2, [self_n()])),
    ?assertMatch({S2, false, _}, phn_partition:init(S2, nodes_n(3))).

static_quorum_1_test() ->
    S = phn_partition:static_quorum(1),
    ?assertNot(lock_v(S, [self_n()], #{})),
    ?assert(unlock_v(S, [self_n()], #{})).

static_exact_then_below_test() ->
    S = phn_partition:static_quorum(3),
    ?assertNot(lock_v(S, nodes_n(3), #{})),
    ?assert(unlock_v(S, nodes_n(3), #{})),
    ?assert(lock_v(S, nodes_n(2), #{})),
    ?assertNot(unlock_v(S, nodes_n(2), #{})).

static_five_node_split_test() ->
    S = phn_partition:static_quorum(3),
    ?assertNot(lock_v(S, [self_n(), n2, n3], #{})),
    ?assert(lock_v(S, [n4, n5], #{})).

%%% DynamicQuorum

dynamic_defaults_and_init_test() ->
    S = phn_partition:dynamic_quorum(50),
    ?assertEqual(30, maps:get(threshold_time, S)),
    ?assertEqual({S, false, #{}}, phn_partition:init(S, nodes_n(3))).

dynamic_no_log_test() ->
    S = phn_partition:dynamic_quorum(50),
    {Lock, St} = lock(S, nodes_n(3), #{}),
    ?assertNot(Lock),
    ?assertEqual([{n5, ?NOW}], maps:get(dynamic_quorum_down_nodes, St)).

dynamic_fresh_log_locks_test() ->
    S = phn_partition:dynamic_quorum(50, 30),
    Log = [{n2, ?NOW - 1}, {n3, ?NOW - 2}, {n4, ?NOW - 3}],
    {Lock, St} = lock(S, [self_n()], #{dynamic_quorum_down_nodes => Log}),
    %% 1 connected, 4 down: 20% left.
    ?assert(Lock),
    ?assertEqual([{n5, ?NOW} | Log], maps:get(dynamic_quorum_down_nodes, St)).

dynamic_old_entries_pruned_test() ->
    S = phn_partition:dynamic_quorum(50, 30),
    Log = [{n3, ?NOW - 100}, {n4, ?NOW - 100}],
    {Lock, St} = lock(S, nodes_n(2), #{dynamic_quorum_down_nodes => Log}),
    %% Old rows pruned, log = [n5]: 2 / (2 + 1) => 66.7% left.
    ?assertNot(Lock),
    ?assertEqual([{n5, ?NOW}], maps:get(dynamic_quorum_down_nodes, St)).

dynamic_unlock_test() ->
    S = phn_partition:dynamic_quorum(50),
    %% No log: unlock stores [].
    ?assertEqual({true, #{dynamic_quorum_down_nodes => []}},
                 phn_partition:toggle_unlock(S, [self_n()], n2, #{}, ?NOW)),
    Log = [{n2, ?NOW}, {n3, ?NOW}, {n4, ?NOW}],
    {false, St1} = phn_partition:toggle_unlock(S, [self_n()], n2, #{dynamic_quorum_down_nodes => Log}, ?NOW),
    ?assertEqual([{n3, ?NOW}, {n4, ?NOW}], maps:get(dynamic_quorum_down_nodes, St1)),
    ?assertMatch({true, _}, phn_partition:toggle_unlock(S, nodes_n(2), n3, St1, ?NOW)).

dynamic_sync_quorum_log_test() ->
    One = [{n2, ?NOW}],
    Three = [{n2, ?NOW}, {n3, ?NOW}, {n4, ?NOW}],
    Key = dynamic_quorum_down_nodes,
    %% remote 3 vs local 1 -> 3
    ?assertEqual(#{Key => Three}, phn_partition:sync_quorum_log(#{Key => One}, Three)),
    %% local 3 vs remote 1 -> stays 3
    ?assertEqual(#{Key => Three}, phn_partition:sync_quorum_log(#{Key => Three}, One)),
    %% no local + remote 1 -> remote stored
    ?assertEqual(#{Key => One}, phn_partition:sync_quorum_log(#{}, One)),
    %% equal length -> local kept
    Other = [{n9, ?NOW}],
    ?assertEqual(#{Key => One}, phn_partition:sync_quorum_log(#{Key => One}, Other)).

dynamic_has_quorum_test() ->
    S = phn_partition:dynamic_quorum(50),
    ?assert(phn_partition:has_quorum(S, nodes_n(2), #{dynamic_quorum_down_nodes => [{n5, ?NOW}]})),
    ?assertNot(phn_partition:has_quorum(S, [self_n()],
                                        #{dynamic_quorum_down_nodes => [{n4, ?NOW}, {n5, ?NOW}]})).

%%% MajorityQuorum

majority_single_node_test() ->
    lists:foreach(
        fun(S) ->
            {S, false, St} = phn_partition:init(S, [self_n()]),
            ?assertEqual(1, maps:get(majority_quorum_max_seen, St)),
            ?assertNot(lock_v(S, [self_n()], St)),
            ?assert(unlock_v(S, [self_n()], St))
        end,
        [phn_partition:majority_quorum(), phn_partition:majority_quorum(1, true)]).

majority_two_from_start_test() ->
    S = phn_partition:majority_quorum(),
    {_, false, St} = phn_partition:init(S, nodes_n(2)),
    {true, St1} = unlock(S, nodes_n(2), St),
    ?assert(lock_v(S, [self_n()], St1)).

majority_grow_via_unlock_test() ->
    S = phn_partition:majority_quorum(),
    {_, _, St} = phn_partition:init(S, [self_n()]),
    {true, St1} = unlock(S, nodes_n(2), St),
    ?assertEqual(2, maps:get(majority_quorum_max_seen, St1)),
    {true, St2} = lock(S, [self_n()], St1),
    ?assertEqual(St1, St2).

majority_three_and_five_test() ->
    S = phn_partition:majority_quorum(),
    {_, _, St3} = phn_partition:init(S, nodes_n(3)),
    ?assertNot(lock_v(S, nodes_n(2), St3)),
    ?assert(lock_v(S, nodes_n(1), St3)),
    {_, _, St5} = phn_partition:init(S, nodes_n(5)),
    ?assertNot(lock_v(S, nodes_n(3), St5)),
    ?assert(lock_v(S, nodes_n(2), St5)).

majority_splits_test() ->
    S = phn_partition:majority_quorum(),
    {_, _, St5} = phn_partition:init(S, nodes_n(5)),
    ?assertNot(lock_v(S, [self_n(), n2, n3], St5)),
    ?assert(unlock_v(S, [self_n(), n2, n3], St5)),
    ?assert(lock_v(S, [n4, n5], St5)),
    ?assertNot(unlock_v(S, [n4, n5], St5)),
    {_, _, St3} = phn_partition:init(S, nodes_n(3)),
    ?assertNot(lock_v(S, [self_n(), n2], St3)),
    ?assert(unlock_v(S, [self_n(), n2], St3)),
    ?assert(lock_v(S, [n3], St3)),
    ?assertNot(unlock_v(S, [n3], St3)).

majority_initial_size_test() ->
    S5 = phn_partition:majority_quorum(5, true),
    {_, false, St5} = phn_partition:init(S5, [self_n()]),
    ?assertEqual(5, maps:get(majority_quorum_max_seen, St5)),
    ?assert(lock_v(S5, [self_n()], St5)),
    S3 = phn_partition:majority_quorum(3, true),
    {_, false, St3} = phn_partition:init(S3, nodes_n(2)),
    ?assertEqual(3, maps:get(majority_quorum_max_seen, St3)),
    ?assertNot(lock_v(S3, nodes_n(2), St3)).

majority_track_growth_test() ->
    S = phn_partition:majority_quorum(),
    {_, _, St} = phn_partition:init(S, [self_n()]),
    {true, St3} = unlock(S, nodes_n(3), St),
    ?assertEqual(3, maps:get(majority_quorum_max_seen, St3)),
    {true, St5} = unlock(S, nodes_n(5), St3),
    ?assertEqual(5, maps:get(majority_quorum_max_seen, St5)),
    ?assert(lock_v(S, nodes_n(2), St5)).

majority_no_tracking_test() ->
    S = phn_partition:majority_quorum(1, false),
    {_, _, St} = phn_partition:init(S, nodes_n(3)),
    ?assertEqual(3, maps:get(majority_quorum_max_seen, St)),
    {true, St1} = unlock(S, nodes_n(5), St),
    ?assertEqual(3, maps:get(majority_quorum_max_seen, St1)).

majority_sizes_test_() ->
    S = phn_partition:majority_quorum(),
    [{integer_to_list(Size),
      fun() ->
          {_, _, St} = phn_partition:init(S, nodes_n(Size)),
          Quorum = Size div 2 + 1,
          ?assertNot(lock_v(S, nodes_n(Quorum), St)),
          ?assert(unlock_v(S, nodes_n(Quorum), St)),
          ?assert(lock_v(S, nodes_n(Quorum - 1), St))
      end}
     || Size <- [1, 2, 3, 4, 5, 6]].

majority_reset_cluster_size_test() ->
    S = phn_partition:majority_quorum(),
    {_, _, St5} = phn_partition:init(S, nodes_n(5)),
    ?assert(lock_v(S, nodes_n(2), St5)),
    St3 = phn_partition:reset_cluster_size(St5, 3),
    ?assertEqual(3, maps:get(majority_quorum_max_seen, St3)),
    ?assertNot(lock_v(S, nodes_n(2), St3)),
    ?assertError(badarg, phn_partition:reset_cluster_size(St5, 0)),
    ?assertError(badarg, phn_partition:reset_cluster_size(St5, three)).

%%% Divergence

divergence_test() ->
    S = phn_partition:divergence(),
    ?assertEqual({S, false, #{}}, phn_partition:init(S, [self_n()])),
    [begin
         ?assertEqual({false, #{}}, lock(S, nodes_n(N), #{})),
         ?assertEqual({false, #{}}, unlock(S, nodes_n(N), #{})),
         ?assert(phn_partition:has_quorum(S, nodes_n(N), #{}))
     end
     || N <- [1, 2, 5]].

%%% Batches (the coordinator's Enum.any? over the changed nodes)

nodes_down_short_circuits_test() ->
    S = phn_partition:dynamic_quorum(50),
    %% The first down node already fails the quorum; the second is never logged.
    {true, St} = phn_partition:nodes_down(S, [self_n()], [n2, n3],
                                           #{dynamic_quorum_down_nodes => [{n4, erlang:system_time(second)}]}),
    ?assertMatch([{n2, _}, {n4, _}], maps:get(dynamic_quorum_down_nodes, St)),
    ?assertEqual({false, #{}}, phn_partition:nodes_up(phn_partition:divergence(), [a], [a, b], #{})).

%%% State handling and bad input

other_state_keys_kept_test() ->
    S = phn_partition:majority_quorum(),
    {_, _, St} = phn_partition:init(S, nodes_n(2), #{mine => 1}),
    ?assertEqual(#{mine => 1, majority_quorum_max_seen => 2}, St).

float_quorum_test() ->
    %% 2 connected + 1 down => 66.66.. left.
    St = #{dynamic_quorum_down_nodes => [{n5, ?NOW}]},
    ?assertNot(phn_partition:has_quorum(phn_partition:dynamic_quorum(66.67), nodes_n(2), St)),
    ?assert(phn_partition:has_quorum(phn_partition:dynamic_quorum(66.66), nodes_n(2), St)).

bad_input_test_() ->
    Static = phn_partition:static_quorum(3),
    Bad = [
        fun() -> lock(#{}, [a], #{}) end,
        fun() -> lock(not_a_map, [a], #{}) end,
        fun() -> lock(#{'__struct__' => 'Elixir.Unknown'}, [a], #{}) end,
        fun() -> lock(maps:remove(quorum_size, Static), [a], #{}) end,
        fun() -> lock(Static#{quorum_size => "3"}, [a], #{}) end,
        fun() -> lock(Static#{startup_confirm => yes}, [a], #{}) end,
        fun() -> lock(phn_partition:majority_quorum(1.5, true), [a], #{}) end,
        fun() -> lock(Static, [a | b], #{}) end,
        fun() -> lock(Static, [a, "b"], #{}) end,
        fun() -> lock(Static, not_a_list, #{}) end,
        fun() -> lock(Static, [a], not_a_map) end,
        fun() -> phn_partition:toggle_lock(Static, [a], "n", #{}, ?NOW) end,
        fun() -> phn_partition:toggle_lock(Static, [a], n, #{}, 1.0) end,
        fun() -> lock(phn_partition:dynamic_quorum(50), [a], #{dynamic_quorum_down_nodes => [x]}) end,
        fun() -> lock(phn_partition:dynamic_quorum(50), [a], #{dynamic_quorum_down_nodes => [{"n", 1}]}) end,
        fun() -> lock(phn_partition:dynamic_quorum(50), [a], #{dynamic_quorum_down_nodes => [{n, 1} | x]}) end,
        fun() -> lock(phn_partition:majority_quorum(), [a], #{majority_quorum_max_seen => 1.0}) end,
        fun() -> lock(phn_partition:majority_quorum(), [a], #{majority_quorum_max_seen => 1 bsl 70}) end,
        %% DynamicQuorum with nobody connected and nothing down divides by zero.
        fun() -> phn_partition:toggle_unlock(phn_partition:dynamic_quorum(50), [], n, #{}, ?NOW) end,
        fun() -> phn_partition:sync_quorum_log(#{}, not_a_log) end,
        fun() -> phn_partition:sync_quorum_log(#{}, [{n, x}]) end,
        fun() -> phn_partition:sync_quorum_log(not_a_map, []) end,
        fun() -> phn_nif:partition_eval(bogus_op, Static, [a], n, ?NOW, #{}) end,
        fun() -> phn_partition:nodes_down(Static, [a], [b | c], #{}) end
    ],
    [?_assertError(badarg, F()) || F <- Bad].

nil_state_values_are_absent_test() ->
    S = phn_partition:majority_quorum(3, true),
    %% nil (what an empty storage lookup yields) behaves as absent.
    ?assert(lock_v(S, [self_n()], #{majority_quorum_max_seen => nil})).

big_node_list_test() ->
    %% Past the dirty threshold the call runs on a dirty scheduler; same answer.
    Nodes = [list_to_atom("big" ++ integer_to_list(I)) || I <- lists:seq(1, 20000)],
    ?assertNot(lock_v(phn_partition:static_quorum(3), Nodes, #{})).
