%% @doc phn_tracker's API: tracking, chunk-aware recording (record/4 and count/3), the
%% ignored responses and their counters, get/peek/take/cancel/update, expiry (and
%% take_expired/2), caps, bad input, closing, owner death (from a second process), the
%% owner keeping an unreferenced tracker alive, concurrent use from several processes,
%% reloading the library under live trackers, and the complexity of record and cleanup
%% proved by the tracker's own work counters (no timing).
-module(phn_20_tracker_tests).

-include_lib("eunit/include/eunit.hrl").

-define(T, phn_tracker).

now_ms() -> erlang:monotonic_time(millisecond).

far() -> #{timeout_ms => 600000}.

ignored_counts(T) -> maps:get(ignored, ?T:stats(T)).
debug(T) -> maps:get(debug, ?T:stats(T)).

%%====================================================================
%% Tracking and recording
%%====================================================================

track_and_complete_test() ->
    T = ?T:new(),
    R = make_ref(),
    ?assertEqual(ok, ?T:track(T, R, [a, b, c], far())),
    ?assertEqual(1, ?T:size(T)),
    ?assertEqual({pending, 2}, ?T:record(T, R, b, [{c2, ok}])),
    ?assertEqual({pending, 1}, ?T:record(T, R, a, [{c1, ok}])),
    %% Collected follows Expected's order, not the arrival order.
    ?assertEqual({complete, [{a, [{c1, ok}]}, {b, [{c2, ok}]}, {c, []}]},
                 ?T:record(T, R, c, [])),
    ?assertEqual(0, ?T:size(T)),
    ?assertEqual({ignored, unknown_operation}, ?T:record(T, R, a, [])),
    ?assertEqual({error, not_found}, ?T:get(T, R)).

chunks_concatenate_in_arrival_order_test() ->
    T = ?T:new(),
    R = {tx, 1},
    ok = ?T:track(T, R, [{a, 3}, b], far()),
    ?assertEqual({pending, 2}, ?T:record(T, R, a, [1, 2])),
    ?assertEqual({pending, 1}, ?T:record(T, R, b, [x])),
    ?assertEqual({pending, 1}, ?T:record(T, R, a, [3])),
    {ok, Info} = ?T:get(T, R),
    ?assertEqual([{a, [1, 2, 3]}, {b, [x]}], maps:get(collected, Info)),
    ?assertEqual([a], maps:get(missing, Info)),
    ?assertEqual({complete, [{a, [1, 2, 3, 4, 5]}, {b, [x]}]}, ?T:record(T, R, a, [4, 5])).

single_chunk_as_sent_and_non_lists_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, {b, 2}], far()),
    {pending, 1} = ?T:record(T, R, a, nil),
    {pending, 1} = ?T:record(T, R, b, {not_a_list}),
    %% A node with one chunk gets it as sent; in a concatenation a non-list chunk is one
    %% element, and so is an improper list.
    ?assertEqual({complete, [{a, nil}, {b, [{not_a_list}, [1 | 2]]}]},
                 ?T:record(T, R, b, [1 | 2])).

duplicate_nodes_add_chunks_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, {a, 2}], far()),
    {pending, 1} = ?T:record(T, R, a, [1]),
    {pending, 1} = ?T:record(T, R, a, [2]),
    ?assertEqual({complete, [{a, [1, 2, 3]}]}, ?T:record(T, R, a, [3])).

empty_expected_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [], far()),
    ?assertMatch({ok, undefined, 0}, ?T:peek(T, R)),
    ?assertEqual({ignored, unexpected_node}, ?T:record(T, R, a, [])),
    ?assertMatch({ok, #{collected := [], missing := []}}, ?T:take(T, R)).

ignored_responses_are_counted_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, b], far()),
    ?assertEqual({ignored, unexpected_node}, ?T:record(T, R, stranger, [x])),
    ?assertEqual({ignored, unexpected_node}, ?T:record(T, R, "not an atom", [x])),
    ?assertEqual({ignored, unknown_operation}, ?T:record(T, make_ref(), a, [x])),
    {pending, 1} = ?T:record(T, R, a, [1]),
    ?assertEqual({ignored, extra_chunk}, ?T:record(T, R, a, [again])),
    ?assertEqual(#{unknown_operation => 1, unexpected_node => 2, extra_chunk => 1},
                 ignored_counts(T)),
    %% Nothing of the ignored ones was kept; the operation still completes.
    ?assertEqual({complete, [{a, [1]}, {b, [2]}]}, ?T:record(T, R, b, [2])),
    ?assertMatch(#{records := 2, completes := 1}, debug(T)).

record_with_meta_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, b], #{timeout_ms => 1000, meta => {my, meta, [1, 2]}}),
    ?assertEqual({pending, 1}, ?T:record(T, R, a, [1], #{return_meta => true})),
    ?assertEqual({complete, [{a, [1]}, {b, [2]}], {my, meta, [1, 2]}},
                 ?T:record(T, R, b, [2], #{return_meta => true})),
    R2 = make_ref(),
    ok = ?T:track(T, R2, [a], far()),
    ?assertEqual({complete, [{a, []}], undefined}, ?T:record(T, R2, a, [], #{return_meta => true})),
    ?assertError(badarg, ?T:record(T, R2, a, [], #{return_meta => yes})),
    ?assertError(badarg, ?T:record(T, R2, a, [], not_a_map)).

keys_are_exact_terms_test() ->
    T = ?T:new(),
    ok = ?T:track(T, 1, [a], far()),
    ok = ?T:track(T, 1.0, [a], far()),
    ok = ?T:track(T, {1, <<"x">>}, [a], far()),
    ?assertEqual({error, already_tracked}, ?T:track(T, {1, <<"x">>}, [b], far())),
    ?assertEqual(3, ?T:size(T)),
    ?assertEqual({complete, [{a, one}]}, ?T:record(T, 1, a, one)),
    ?assertMatch({ok, #{ref := 1.0}}, ?T:get(T, 1.0)).

%%====================================================================
%% count/3: chunks counted, no term kept
%%====================================================================

count_pending_and_complete_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, {b, 2}, c], far()),
    ?assertEqual({pending, 3}, ?T:count(T, R, b)),
    ?assertEqual({pending, 2}, ?T:count(T, R, b)),
    ?assertEqual({pending, 1}, ?T:count(T, R, a)),
    ?assertMatch(#{kept_terms := 0}, ?T:stats(T)),
    ?assertMatch({ok, #{collected := [], missing := [c]}}, ?T:get(T, R)),
    ?assertEqual(complete, ?T:count(T, R, c)),
    ?assertEqual(0, ?T:size(T)),
    ?assertEqual({ignored, unknown_operation}, ?T:count(T, R, c)),
    ?assertMatch(#{records := 4, completes := 1}, debug(T)).

count_ignored_reasons_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, b], far()),
    ?assertEqual({ignored, unknown_operation}, ?T:count(T, make_ref(), a)),
    ?assertEqual({ignored, unexpected_node}, ?T:count(T, R, z)),
    ?assertEqual({ignored, unexpected_node}, ?T:count(T, R, "a")),
    ?assertEqual({pending, 1}, ?T:count(T, R, a)),
    ?assertEqual({ignored, extra_chunk}, ?T:count(T, R, a)),
    ?assertEqual(#{unknown_operation => 1, unexpected_node => 2, extra_chunk => 1},
                 ignored_counts(T)),
    ?assertEqual(complete, ?T:count(T, R, b)),
    ?assertError(badarg, ?T:count(not_a_tracker, R, a)),
    ?assertError(badarg, ?T:count(T, fun() -> ok end, a)),
    ?assertError(badarg, ?T:count(T, lists:seq(1, 100), a)),
    ok = ?T:close(T),
    ?assertEqual({ignored, unknown_operation}, ?T:count(T, R, a)).

%% Counted and recorded chunks mix: both count toward completion; only recorded ones are
%% collected (a node whose chunks were all counted is not in Collected).
count_mixed_with_record_test() ->
    T = ?T:new(),
    R = {tx, 7},
    ok = ?T:track(T, R, [{a, 3}, b, c], #{timeout_ms => 60000, meta => m}),
    ?assertEqual({pending, 3}, ?T:record(T, R, a, [1])),
    ?assertEqual({pending, 3}, ?T:count(T, R, a)),
    ?assertEqual({pending, 2}, ?T:record(T, R, a, [3])),
    ?assertEqual({pending, 1}, ?T:count(T, R, b)),
    ?assertMatch({ok, #{collected := [{a, [1, 3]}], missing := [c]}}, ?T:get(T, R)),
    ?assertEqual({complete, [{a, [1, 3]}, {c, [9]}], m},
                 ?T:record(T, R, c, [9], #{return_meta => true})),
    R2 = {tx, 8},
    ok = ?T:track(T, R2, [{a, 2}], far()),
    ?assertEqual({pending, 1}, ?T:record(T, R2, a, only)),
    ?assertEqual(complete, ?T:count(T, R2, a)),
    ?assertMatch(#{ops := 0, kept_terms := 0}, ?T:stats(T)).

%% take_expired/2: the references of the expired operations, earliest deadline first.
take_expired_test() ->
    T = ?T:new(),
    [ok = ?T:track(T, {r, I}, [a], #{deadline_ms => 100 - I, meta => I}) || I <- lists:seq(1, 2500)],
    ok = ?T:track(T, late, [a], #{deadline_ms => 5000}),
    Refs = ?T:take_expired(T, 100),
    ?assertEqual([{r, I} || I <- lists:seq(2500, 1, -1)], Refs),
    ?assertEqual([], ?T:take_expired(T, 100)),
    ?assertEqual(1, ?T:size(T)),
    ?assertEqual([late], ?T:take_expired(T, 5001)),
    ?assertError(badarg, ?T:take_expired(T, now)).

%%====================================================================
%% get / peek / take / cancel / update
%%====================================================================

get_peek_take_cancel_test() ->
    T = ?T:new(),
    R = make_ref(),
    D = now_ms() + 5000,
    ok = ?T:track(T, R, [a, {b, 2}], #{deadline_ms => D, meta => #{op => 1}}),
    {pending, 1} = ?T:record(T, R, a, [1]),
    {pending, 1} = ?T:record(T, R, b, [2]),
    Info = #{ref => R, meta => #{op => 1}, collected => [{a, [1]}, {b, [2]}],
             missing => [b], deadline => D},
    ?assertEqual({ok, Info}, ?T:get(T, R)),
    ?assertEqual({ok, Info}, ?T:get(T, R)), % get leaves it in place
    ?assertEqual({ok, #{op => 1}, 1}, ?T:peek(T, R)),
    ?assertEqual({ok, Info}, ?T:take(T, R)),
    ?assertEqual({error, not_found}, ?T:take(T, R)),
    ?assertEqual({error, not_found}, ?T:peek(T, R)),
    ok = ?T:track(T, R, [a], far()),
    ?assertEqual(ok, ?T:cancel(T, R)),
    ?assertEqual({error, not_found}, ?T:cancel(T, R)),
    ?assertEqual(0, ?T:size(T)).

update_keeps_results_and_memory_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [a, b], #{timeout_ms => 1000}),
    {pending, 1} = ?T:record(T, R, a, [1, 2, 3]),
    %% bytes counts the kept meta too: measured once the last meta (same size) is in.
    NoMeta = maps:get(bytes, ?T:stats(T)),
    ok = ?T:update_meta(T, R, {meta, 1000, lists:seq(1, 100)}),
    Before = maps:get(bytes, ?T:stats(T)),
    ?assert(Before > NoMeta),
    [ok = ?T:update_meta(T, R, {meta, I, lists:seq(1, 100)}) || I <- lists:seq(1, 1000)],
    ?assertMatch(#{bytes := Before, kept_terms := 1}, ?T:stats(T)),
    ?assertMatch({ok, #{collected := [{a, [1, 2, 3]}], meta := {meta, 1000, _}}}, ?T:get(T, R)),
    ?assertEqual({error, not_found}, ?T:update_meta(T, make_ref(), x)),
    ?assertEqual({complete, [{a, [1, 2, 3]}, {b, [4]}], {meta, 1000, lists:seq(1, 100)}},
                 ?T:record(T, R, b, [4], #{return_meta => true})).

update_moves_deadline_test() ->
    T = ?T:new(),
    Now = now_ms(),
    [ok = ?T:track(T, I, [a], #{deadline_ms => Now + I}) || I <- lists:seq(1, 10)],
    ok = ?T:update(T, 1, #{deadline_ms => Now + 100}),
    ok = ?T:update(T, 9, #{deadline_ms => Now - 5, meta => nine}),
    ok = ?T:update(T, 10, #{timeout_ms => infinity}),
    ?assertEqual({error, not_found}, ?T:update(T, 11, #{timeout_ms => 5})),
    Expired = ?T:cleanup_expired(T, Now + 50),
    ?assertEqual([9, 2, 3, 4, 5, 6, 7, 8], [maps:get(ref, I) || I <- Expired]),
    ?assertMatch([#{meta := nine, deadline := _} | _], Expired),
    ?assertMatch({ok, #{deadline := infinity}}, ?T:get(T, 10)),
    ?assertEqual([1], [maps:get(ref, I) || I <- ?T:cleanup_expired(T, Now + 101)]),
    ?assertEqual([], ?T:cleanup_expired(T, 1 bsl 62)),
    ?assertEqual(1, ?T:size(T)).

%%====================================================================
%% Expiry
%%====================================================================

cleanup_is_strict_and_ordered_test() ->
    T = ?T:new(),
    Now = now_ms(),
    ok = ?T:track(T, at, [a], #{deadline_ms => Now}),
    ok = ?T:track(T, before, [a, b], #{deadline_ms => Now - 1000, meta => m}),
    ok = ?T:track(T, later, [a], #{deadline_ms => Now + 60000}),
    ok = ?T:track(T, never, [a], #{timeout_ms => infinity}),
    {pending, 1} = ?T:record(T, before, a, [r]),
    ?assertEqual([#{ref => before, meta => m, collected => [{a, [r]}], missing => [b],
                    deadline => Now - 1000}],
                 ?T:cleanup_expired(T, Now)),
    ?assertEqual(3, ?T:size(T)),
    ?assertEqual([at], [maps:get(ref, I) || I <- ?T:cleanup_expired(T, Now + 1)]),
    ?assertEqual([later], [maps:get(ref, I) || I <- ?T:cleanup_expired(T, 1 bsl 62)]),
    ?assertMatch({ok, #{ref := never, deadline := infinity}}, ?T:get(T, never)).

cleanup_expired_default_clock_test() ->
    T = ?T:new(),
    ok = ?T:track(T, gone, [a], #{deadline_ms => now_ms() - 10}),
    ok = ?T:track(T, zero, [a], #{timeout_ms => 0}),
    ok = ?T:track(T, kept, [a], #{timeout_ms => 60000}),
    timer:sleep(2),
    ?assertEqual([gone, zero], [maps:get(ref, I) || I <- ?T:cleanup_expired(T)]),
    ?assertEqual(1, ?T:size(T)).

many_expired_in_batches_test() ->
    T = ?T:new(),
    Now = now_ms(),
    N = 5000,
    [ok = ?T:track(T, I, [a, b], #{deadline_ms => Now - 1 - (N - I), meta => I}) || I <- lists:seq(1, N)],
    [ok = ?T:track(T, {keep, I}, [a], far()) || I <- lists:seq(1, 100)],
    Expired = ?T:cleanup_expired(T, Now),
    ?assertEqual(lists:seq(1, N), [maps:get(ref, I) || I <- Expired]),
    ?assertEqual(lists:seq(1, N), [maps:get(meta, I) || I <- Expired]),
    ?assertEqual(100, ?T:size(T)).

cleanup_in_steps_and_drop_test() ->
    T = ?T:new(),
    Now = now_ms(),
    [ok = ?T:track(T, I, [a], #{deadline_ms => Now - 1000 + I, meta => I}) || I <- lists:seq(1, 1000)],
    {First, more} = ?T:cleanup_expired(T, Now, 300),
    ?assertEqual(lists:seq(1, 300), [maps:get(ref, I) || I <- First]),
    {Second, more} = ?T:cleanup_expired(T, Now, 299),
    ?assertEqual(lists:seq(301, 599), [maps:get(meta, I) || I <- Second]),
    %% 599..998 are due at Now (999 is not: Now - 1000 + 999 = Now - 1 < Now... is due;
    %% 1000 is at Now: not expired).
    {Rest, done} = ?T:cleanup_expired(T, Now, 100000),
    ?assertEqual(lists:seq(600, 999), [maps:get(ref, I) || I <- Rest]),
    ?assertEqual({[], done}, ?T:cleanup_expired(T, Now, 1)),
    ?assertEqual(1, ?T:size(T)),
    ?assertError(badarg, ?T:cleanup_expired(T, Now, 0)),
    ?assertError(badarg, ?T:drop_expired(T, soon)),
    %% drop_expired: the same removals, only counted.
    [ok = ?T:track(T, {d, I}, [a, b], #{deadline_ms => Now - I, meta => I}) || I <- lists:seq(1, 500)],
    ok = ?T:track(T, kept, [a], far()),
    ?assertEqual(500, ?T:drop_expired(T, Now)),
    ?assertEqual(0, ?T:drop_expired(T, Now)),
    ?assertEqual(2, ?T:size(T)),
    ?assertEqual(1, ?T:drop_expired(T, Now + 1)),
    ?assertMatch(#{ops := 1, kept_terms := 0}, ?T:stats(T)).

%%====================================================================
%% Caps and bad input
%%====================================================================

caps_test() ->
    T = ?T:new(#{max_ops => 3, max_nodes_per_op => 4}),
    ?assertMatch(#{max_ops := 3, max_nodes_per_op := 4}, ?T:stats(T)),
    [ok = ?T:track(T, I, [a], far()) || I <- [1, 2, 3]],
    ?assertEqual({error, limit}, ?T:track(T, 4, [a], far())),
    ?assertEqual({error, already_tracked}, ?T:track(T, 3, [a], far())),
    ok = ?T:cancel(T, 1),
    ?assertEqual({error, limit}, ?T:track(T, 5, [a, b, c, d, e], far())),
    ?assertEqual(ok, ?T:track(T, 5, [a, b, c, {d, 1000}], far())),
    ?assertEqual(3, ?T:size(T)),
    %% A list far past the cap is refused without walking it all.
    ?assertEqual({error, limit}, ?T:track(T, 6, lists:duplicate(1000000, a), far())).

bad_input_test() ->
    T = ?T:new(),
    R = make_ref(),
    [?assertError(badarg, ?T:track(T, R, E, far()))
     || E <- [not_a_list, [a | b], ["node"], [{a, 0}], [{a, -1}], [{a, 1 bsl 32}], [{a, 1.0}],
              [{a, 1, 2}], [{"a", 1}], [{a, 2}, {a, (1 bsl 32) - 2}]]],
    [?assertError(badarg, ?T:track(T, R, [a], O))
     || O <- [#{}, #{timeout_ms => -1}, #{timeout_ms => 1.5}, #{deadline_ms => soon},
              not_a_map, [{timeout_ms, 5}]]],
    %% A key past the size cap (255, counted as 8 per term and list cell).
    ?assertError(badarg, ?T:track(T, lists:seq(1, 300), [a], far())),
    ?assertError(badarg, ?T:record(T, lists:seq(1, 300), a, [])),
    [?assertError(badarg, F())
     || F <- [fun() -> ?T:new(#{max_ops => 0}) end,
              fun() -> ?T:new(#{max_nodes_per_op => -1}) end,
              fun() -> ?T:new(not_a_map) end,
              fun() -> ?T:size(make_ref()) end,
              fun() -> ?T:stats(self()) end,
              fun() -> ?T:record(not_a_tracker, R, a, []) end,
              fun() -> ?T:get(R, R) end,
              fun() -> ?T:take(R, R) end,
              fun() -> ?T:cancel(R, R) end,
              fun() -> ?T:close(R) end,
              fun() -> ?T:cleanup_expired(T, soon) end,
              fun() -> ?T:cleanup_expired(R, 0) end,
              fun() -> ?T:update(T, R, not_a_map) end,
              fun() -> ?T:update(T, R, #{deadline_ms => x}) end,
              fun() -> phn_nif:tracker_cleanup(T, 0, 0, true) end,
              fun() -> phn_nif:tracker_cleanup(T, 0, 1, maybe) end,
              fun() -> phn_nif:tracker_update(T, R, {meta}, keep) end,
              fun() -> phn_nif:tracker_record(T, R, a, [], maybe) end,
              fun() -> phn_nif:tracker_track(T, R, [a], 1 bsl 64, none) end]],
    %% Nothing was tracked by the failed calls, and the tracker still works.
    ?assertEqual(0, ?T:size(T)),
    ok = ?T:track(T, R, [a], far()),
    ?assertEqual({complete, [{a, ok}]}, ?T:record(T, R, a, ok)).

%% Random and near-miss terms through every entry point: badarg (or function_clause from
%% a wrapper head) or a result, never anything else; the tracker still answers after.
fuzz_test_() ->
    {timeout, 120, fun() ->
        T = ?T:new(#{max_ops => 1000}),
        ok = ?T:track(T, known, [a, b], far()),
        Calls = [fun(A, B, C) -> ?T:track(T, A, B, C) end,
                 fun(A, B, C) -> ?T:track(T, A, [a, B], #{timeout_ms => 10, meta => C}) end,
                 fun(A, B, C) -> ?T:record(T, A, B, C) end,
                 fun(_, B, C) -> ?T:record(T, known, B, C) end,
                 fun(A, B, C) -> ?T:record(T, A, B, C, #{return_meta => true}) end,
                 fun(A, _, _) -> ?T:get(T, A) end,
                 fun(A, _, _) -> ?T:peek(T, A) end,
                 fun(A, _, _) -> ?T:take(T, A) end,
                 fun(A, _, _) -> ?T:cancel(T, A) end,
                 fun(A, B, _) -> ?T:update(T, A, B) end,
                 fun(A, B, _) -> ?T:update_meta(T, A, B) end,
                 fun(A, _, _) -> ?T:cleanup_expired(T, A) end,
                 fun(A, B, C) -> phn_nif:tracker_track(A, B, C, 0, none) end,
                 fun(A, B, C) -> phn_nif:tracker_record(T, A, B, C, false) end,
                 fun(A, B, _) -> ?T:count(T, A, B) end,
                 fun(_, B, _) -> ?T:count(T, known, B) end,
                 fun(A, _, _) -> ?T:take_expired(T, A) end,
                 fun(A, B, C) -> phn_nif:tracker_cleanup(A, B, C, ref) end,
                 fun(A, B, C) -> phn_nif:tracker_update(T, A, B, C) end,
                 fun(A, B, C) -> phn_nif:tracker_cleanup(A, B, C, true) end,
                 fun(A, B, _) -> ?T:cleanup_expired(T, A, B) end,
                 fun(A, _, _) -> ?T:drop_expired(T, A) end,
                 fun(A, B, _) -> phn_nif:tracker_new(A, B) end],
        lists:foreach(
          fun(Seed) ->
                  rand:seed(exsss, {Seed, 7, 11}),
                  Args = [case rand:uniform(3) of
                              1 -> phn_terms:random_term(3);
                              2 -> phn_terms:near_miss(rand:uniform(4) - 1);
                              3 -> lists:nth(rand:uniform(4), [known, a, [a, {b, 2}], #{timeout_ms => 5}])
                          end || _ <- [1, 2, 3]],
                  F = lists:nth(rand:uniform(length(Calls)), Calls),
                  try apply(F, Args) of
                      _ -> ok
                  catch
                      error:badarg -> ok;
                      error:function_clause -> ok
                  end
          end, lists:seq(1, 20000)),
        _ = ?T:cleanup_expired(T, 1 bsl 62),
        R = make_ref(),
        ok = ?T:track(T, R, [a], far()),
        ?assertEqual({complete, [{a, done}]}, ?T:record(T, R, a, done))
    end}.

%%====================================================================
%% Closing and owner death
%%====================================================================

close_test() ->
    T = ?T:new(),
    ok = ?T:track(T, r, [a, b], #{timeout_ms => 10, meta => m}),
    {pending, 1} = ?T:record(T, r, a, [x]),
    ok = ?T:track(T, r2, [a], far()),
    ?assertEqual(ok, ?T:close(T)),
    ?assertEqual(ok, ?T:close(T)),
    ?assertEqual(0, ?T:size(T)),
    ?assertMatch(#{ops := 0, kept_terms := 0, closed := true}, ?T:stats(T)),
    ?assertEqual({error, closed}, ?T:track(T, r3, [a], far())),
    ?assertEqual({ignored, unknown_operation}, ?T:record(T, r2, a, [])),
    ?assertEqual({error, not_found}, ?T:get(T, r2)),
    ?assertEqual({error, not_found}, ?T:take(T, r2)),
    ?assertEqual({error, not_found}, ?T:cancel(T, r2)),
    ?assertEqual({error, not_found}, ?T:update_meta(T, r2, x)),
    ?assertEqual([], ?T:cleanup_expired(T, 1 bsl 62)).

%% The owner creates and fills a tracker (meta and results in every operation) and hands
%% it over; once the owner is dead, a second process sees 0 operations, no term
%% environments and no more bytes than a fresh tracker, and the VM-wide counters are
%% back where they were.
owner_death_frees_everything_test_() ->
    [{"small table (freed in the monitor callback)", fun() -> owner_death(500) end},
     {timeout, 60, {"big table (freed by the reaper thread)", fun() -> owner_death(50000) end}}].

owner_death(N) ->
    settle(),
    Global0 = ?T:stats(),
    Fresh = maps:get(bytes, ?T:stats(?T:new())),
    Self = self(),
    {Owner, MRef} = spawn_monitor(fun() ->
        T = ?T:new(),
        [begin
             ok = ?T:track(T, I, [a, b, {c, 2}], #{timeout_ms => 60000, meta => {op, I, <<"m">>}}),
             {pending, _} = ?T:record(T, I, a, [{child, I}])
         end || I <- lists:seq(1, N)],
        Self ! {tracker, T},
        receive never -> ok end
    end),
    T = receive {tracker, X} -> X end,
    Live = ?T:stats(T),
    ?assertMatch(#{ops := N, kept_terms := N, closed := false}, Live),
    ?assert(maps:get(bytes, Live) > Fresh),
    ?assertEqual(Owner, maps:get(owner, Live)),
    ?assert(maps:get(ops, ?T:stats()) >= N),
    exit(Owner, kill),
    receive {'DOWN', MRef, process, Owner, killed} -> ok end,
    ?assert(phn_watch:wait_until(fun() -> maps:get(closed, ?T:stats(T)) end, 500)),
    After = ?T:stats(T),
    ?assertMatch(#{ops := 0, kept_terms := 0, closed := true}, After),
    ?assert(maps:get(bytes, After) =< Fresh),
    ?assertEqual(0, ?T:size(T)),
    ?assertEqual({ignored, unknown_operation}, ?T:record(T, 1, b, [])),
    %% The reaper (big tables) finishes in the background: wait for the global counters.
    ?assert(phn_watch:wait_until(
              fun() ->
                      G = ?T:stats(),
                      maps:get(reaping_ops, G) =:= 0 andalso
                          maps:get(ops, G) =< maps:get(ops, Global0) andalso
                          maps:get(kept_terms, G) =< maps:get(kept_terms, Global0)
              end, 1000)).

%% Trackers made by earlier tests may still be waiting for garbage collection.
settle() ->
    erlang:garbage_collect(),
    phn_watch:wait_until(fun() -> maps:get(reaping_ops, ?T:stats()) =:= 0 end, 1000).

%% A tracker lives as long as its owner, even when no term refers to it any more: the
%% owner drops its only term and collects its heap, and the test then gives a destructor
%% every chance to run (waiting until the VM-wide counters would show it, up to a second)
%% before checking that the operations are all still there. The owner's exit frees them,
%% and the tracker itself (its count goes back) once no term refers to it.
unreferenced_tracker_lives_with_its_owner_test() ->
    settle(),
    G0 = ?T:stats(),
    Self = self(),
    {Pid, MRef} = spawn_monitor(fun() ->
        ok = fill_and_drop(100),
        erlang:garbage_collect(),
        Self ! collected,
        receive stop -> ok end
    end),
    receive collected -> ok end,
    Freed = fun() -> maps:get(ops, ?T:stats()) < maps:get(ops, G0) + 100 end,
    ?assertNot(phn_watch:wait_until(Freed, 100)),
    Pid ! stop,
    receive {'DOWN', MRef, process, Pid, _} -> ok end,
    ?assert(phn_watch:wait_until(
              fun() ->
                      G = ?T:stats(),
                      lists:all(fun(K) -> maps:get(K, G) =< maps:get(K, G0) end,
                                [trackers, ops, kept_terms])
              end, 500)).

%% close/1 ends the owner's hold: a closed tracker that no term refers to is destroyed
%% while its owner lives on (the VM-wide tracker count comes back down).
closed_tracker_is_released_test() ->
    settle(),
    Self = self(),
    {Pid, MRef} = spawn_monitor(fun() ->
        Before = maps:get(trackers, ?T:stats()),
        ok = ?T:close(?T:new()),
        erlang:garbage_collect(),
        Self ! {gone, phn_watch:wait_until(
                        fun() -> maps:get(trackers, ?T:stats()) < Before + 1 end, 500)},
        receive stop -> ok end
    end),
    Gone = receive {gone, G} -> G end,
    Pid ! stop,
    receive {'DOWN', MRef, process, Pid, _} -> ok end,
    ?assert(Gone).

fill_and_drop(N) ->
    T = ?T:new(),
    [ok = ?T:track(T, I, [a], #{timeout_ms => 1000, meta => I}) || I <- lists:seq(1, N)],
    N = ?T:size(T),
    ok.

%%====================================================================
%% Concurrency
%%====================================================================

%% Eight processes share one tracker: each tracks its own operations while all of them
%% record responses for every operation (one node each). Every operation completes
%% exactly once, with every node's results, and the counters add up.
concurrent_use_test_() ->
    {timeout, 120, fun() ->
        Procs = 8,
        Ops = 2000,
        Nodes = [list_to_atom("n" ++ integer_to_list(I)) || I <- lists:seq(1, Procs)],
        T = ?T:new(),
        Self = self(),
        [ok = ?T:track(T, {shared, I}, Nodes, far()) || I <- lists:seq(1, Ops)],
        Pids = [spawn_link(fun() ->
                    Node = lists:nth(P, Nodes),
                    Mine = [begin
                                ok = ?T:track(T, {P, I}, [Node, {x, 2}], far()),
                                {pending, _} = ?T:record(T, {P, I}, Node, [I]),
                                {pending, _} = ?T:record(T, {P, I}, x, [a]),
                                {complete, [{Node, [I]}, {x, [a, b]}]} = ?T:record(T, {P, I}, x, [b]),
                                1
                            end || I <- lists:seq(1, Ops)],
                    Completes = [C || I <- lists:seq(1, Ops),
                                      {complete, C} <- [?T:record(T, {shared, I}, Node, [{P, I}])]],
                    Self ! {done, self(), length(Mine), Completes}
                end) || P <- lists:seq(1, Procs)],
        Results = [receive {done, Pid, Mine, C} -> {Mine, C} end || Pid <- Pids],
        ?assertEqual(Procs * Ops, lists:sum([M || {M, _} <- Results])),
        AllCompletes = lists:append([C || {_, C} <- Results]),
        ?assertEqual(Ops, length(AllCompletes)),
        Expected = fun(I) -> [{N, [{P, I}]} || {P, N} <- lists:zip(lists:seq(1, Procs), Nodes)] end,
        ?assertEqual(lists:sort([Expected(I) || I <- lists:seq(1, Ops)]), lists:sort(AllCompletes)),
        ?assertEqual(0, ?T:size(T)),
        ?assertMatch(#{records := _, completes := _}, debug(T)),
        #{records := Records, completes := CompletesN} = debug(T),
        ?assertEqual(Procs * Ops * 3 + Procs * Ops, Records),
        ?assertEqual(Procs * Ops + Ops, CompletesN)
    end}.

%% Closing while other processes hammer the tracker: every call answers (ok, a result
%% or the closed/unknown answers), nothing crashes.
concurrent_close_test_() ->
    {timeout, 60, fun() ->
        T = ?T:new(),
        Self = self(),
        Pids = [spawn_link(fun() ->
                    Loop = fun Loop(I, Seen) ->
                        R = {P, I},
                        case ?T:track(T, R, [a], far()) of
                            ok ->
                                _ = ?T:record(T, R, a, [I]),
                                _ = ?T:get(T, R),
                                Loop(I + 1, Seen);
                            {error, closed} ->
                                Self ! {stopped, self(), I}
                        end
                    end,
                    Loop(1, 0)
                end) || P <- lists:seq(1, 4)],
        timer:sleep(50),
        ok = ?T:close(T),
        [receive {stopped, Pid, _} -> ok end || Pid <- Pids],
        ?assertMatch(#{ops := 0, closed := true}, ?T:stats(T))
    end}.

%%====================================================================
%% Reload
%%====================================================================

%% A live tracker survives loading the library again (its resource type is taken over)
%% and purging the old code.
reload_with_live_tracker_test() ->
    T = ?T:new(),
    ok = ?T:track(T, r, [a, b], #{timeout_ms => 60000, meta => m}),
    {pending, 1} = ?T:record(T, r, a, [1]),
    {module, phn_nif} = code:ensure_loaded(phn_nif),
    _ = code:purge(phn_nif), % old code left by an earlier suite
    ?assertEqual({module, phn_nif}, code:load_file(phn_nif)),
    ?assertEqual({ignored, extra_chunk}, ?T:record(T, r, a, [1])),
    ?assert(code:soft_purge(phn_nif)),
    ?assertEqual({complete, [{a, [1]}, {b, [2]}], m}, ?T:record(T, r, b, [2], #{return_meta => true})),
    T2 = ?T:new(),
    ok = ?T:track(T2, r, [a], far()),
    ?assertEqual({complete, [{a, x}]}, ?T:record(T2, r, a, x)).

%%====================================================================
%% Complexity, by the tracker's own counters
%%====================================================================

%% Recording a chunk costs O(1) probes (hash slots examined, in the operation table and in
%% the operation's node index) whatever the number of nodes or of pending operations.
record_is_constant_work_test_() ->
    {timeout, 120, fun() ->
        Small = probes_per_record(1, 3),
        ManyNodes = probes_per_record(1, 100000),
        ManyOps = probes_per_record(100000, 3),
        ?debugFmt("probes per record: 1 op x 3 nodes ~.2f, 1 op x 100 000 nodes ~.2f, "
                  "100 000 ops x 3 nodes ~.2f", [Small, ManyNodes, ManyOps]),
        [?assert(P < 6.0) || P <- [Small, ManyNodes, ManyOps]]
    end}.

probes_per_record(NOps, NNodes) ->
    T = ?T:new(#{max_nodes_per_op => NNodes}),
    Nodes = [list_to_atom("node" ++ integer_to_list(I)) || I <- lists:seq(1, NNodes)],
    [ok = ?T:track(T, I, Nodes, far()) || I <- lists:seq(1, NOps)],
    %% Record every node of one operation (the big one), or one node of every operation.
    Calls = case NOps of
                1 -> [{1, N} || N <- Nodes];
                _ -> [{I, hd(Nodes)} || I <- lists:seq(1, NOps)]
            end,
    #{probes := P0, records := R0} = debug(T),
    [{_, _} = ?T:record(T, I, N, []) || {I, N} <- Calls],
    #{probes := P1, records := R1} = debug(T),
    ?assertEqual(length(Calls), R1 - R0),
    ok = ?T:close(T),
    (P1 - P0) / (R1 - R0).

%% Expiring k of n operations costs O(k log n) heap moves: never near n, and per expired
%% operation at most one sift through the heap's height.
cleanup_is_k_log_n_test_() ->
    {timeout, 120, fun() ->
        N = 200000,
        K = 1000,
        T = ?T:new(),
        Now = now_ms(),
        %% Deadlines in a shuffled order, K of them due.
        Order = [I || {_, I} <- lists:sort([{rand:uniform(), I} || I <- lists:seq(1, N)])],
        [ok = ?T:track(T, I, [a], #{deadline_ms => case I =< K of
                                                        true -> Now - I;
                                                        false -> Now + I
                                                    end}) || I <- Order],
        #{heap_moves := M0} = debug(T),
        ?assertEqual(K, length(?T:cleanup_expired(T, Now))),
        #{heap_moves := M1} = debug(T),
        Moves = M1 - M0,
        Height = ceil(math:log2(N)) + 1,
        ?debugFmt("cleanup of ~b of ~b: ~b heap moves (bound ~b)", [K, N, Moves, K * Height]),
        ?assert(Moves =< K * Height),
        ?assert(Moves < N div 4),
        %% Nothing due: no move at all.
        [] = ?T:cleanup_expired(T, Now),
        ?assertMatch(#{heap_moves := M1}, debug(T)),
        ok = ?T:close(T)
    end}.

%%====================================================================
%% Big inputs (correctness; the scheduler side is phn_23)
%%====================================================================

big_inputs_test_() ->
    {timeout, 120, fun() ->
        T = ?T:new(#{max_nodes_per_op => 200000}),
        Nodes = [list_to_atom("big" ++ integer_to_list(I)) || I <- lists:seq(1, 100000)],
        ok = ?T:track(T, big, [{N, 2} || N <- Nodes], #{timeout_ms => 60000, meta => lists:seq(1, 50000)}),
        [{pending, _} = ?T:record(T, big, N, [1]) || N <- Nodes],
        {ok, Info} = ?T:get(T, big),
        ?assertEqual(100000, length(maps:get(missing, Info))),
        Results = lists:seq(1, 30000),
        [{pending, _} = ?T:record(T, big, N, [2]) || N <- tl(Nodes)],
        {complete, Collected, Meta} = ?T:record(T, big, hd(Nodes), Results, #{return_meta => true}),
        ?assertEqual(lists:seq(1, 50000), Meta),
        ?assertEqual({hd(Nodes), [1 | Results]}, hd(Collected)),
        ?assertEqual(100000, length(Collected)),
        ?assertEqual(0, ?T:size(T))
    end}.
