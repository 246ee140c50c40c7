%% The error convention (docs/errors.md) in phn_tracker, phn_nif, phn_request_manager and
%% phn_rm_common:
%% * phn_tracker: every public function given a bad argument raises `badarg' from its own
%%   frame with an error_info naming the argument (and, in an options map, the option);
%%   unknown option keys are refused. What only the NIF refuses (a term that is not a
%%   tracker, a reference past the cap, a malformed Expected) is named too.
%% * phn_nif (private): every NIF raises a bare `badarg' on a bad term.
%% * the drop-in (phn_request_manager, phn_rm_common): raises what ProcessHub raises (its
%%   contract; phn_10/phn_11 compare with the oracle), only set_default_mode/1 names `Mode'.
-module(phn_15_error_tests).

-include_lib("eunit/include/eunit.hrl").

-define(T, phn_tracker).

%% Fun raises badarg in Module:Function, whose text for argument Pos starts with
%% "Name: " and holds Part; the shell's rendering shows it.
raises(Fun, {Module, Function}, Pos, Name, Part) ->
    try Fun() of
        V -> erlang:error({no_raise, Module, Function, Name, V})
    catch
        error:badarg:Stack ->
            [{M, F, _Args, _Info} | _] = Stack,
            ?assertEqual({Module, Function}, {M, F}),
            Texts = phn_errors:format_error(badarg, Stack),
            ?assertMatch(#{Pos := _}, Texts, {Module, Function, Name}),
            Text = maps:get(Pos, Texts),
            ?assert(lists:prefix(atom_to_list(Name) ++ ": ", Text)),
            ?assertNotEqual(nomatch, string:find(Text, Part), Text),
            Shell = lists:flatten(erl_error:format_exception(error, badarg, Stack)),
            ?assertNotEqual(nomatch, string:find(Shell, "argument " ++ integer_to_list(Pos)
                                                 ++ ": " ++ Text)),
            ok
    end.

tracker_cases_test_() ->
    {setup, fun() -> ?T:new() end, fun(T) -> ?T:close(T) end,
     fun(T) ->
         [{lists:flatten(io_lib:format("~p ~p ~p", [F, Name, Part])),
           fun() -> raises(Fun, {?T, F}, Pos, Name, Part) end}
          || {F, Pos, Name, Part, Fun} <- tracker_cases(T)]
     end}.

tracker_cases(T) ->
    R = make_ref(),
    NotT = make_ref(), % a reference, not a tracker
    BadRef = fun() -> ok end,
    Huge = 1 bsl 70,
    NotTracker = "not a tracker",
    NotKey = "not a reference a tracker accepts",
    [{new, 1, 'Opts', "not a map", fun() -> ?T:new(x) end},
     {new, 1, 'Opts', "unknown option max_op ", fun() -> ?T:new(#{max_op => 1}) end},
     {new, 1, 'Opts', "option max_ops: not an integer in 1..",
      fun() -> ?T:new(#{max_ops => 0}) end},
     {new, 1, 'Opts', "option max_nodes_per_op",
      fun() -> ?T:new(#{max_nodes_per_op => Huge}) end},
     %% The issue's two misuses.
     {track, 4, 'Opts', "unknown option timeout (known: deadline_ms, meta, timeout_ms)",
      fun() -> ?T:track(T, R, [a@h], #{timeout => 5000}) end},
     {track, 3, 'Expected', "not a proper list of Node or {Node, Chunks}",
      fun() -> ?T:track(T, R, ["a@h"], #{timeout_ms => 1}) end},
     {track, 3, 'Expected', "Chunks", fun() -> ?T:track(T, R, [{a, 0}], #{timeout_ms => 1}) end},
     {track, 3, 'Expected', "Chunks",
      fun() -> ?T:track(T, R, [{a, 1 bsl 32}], #{timeout_ms => 1}) end},
     {track, 3, 'Expected', "proper list",
      fun() -> ?T:track(T, R, [a | b], #{timeout_ms => 1}) end},
     {track, 3, 'Expected', "proper list", fun() -> ?T:track(T, R, none, #{timeout_ms => 1}) end},
     {track, 4, 'Opts', "neither timeout_ms nor deadline_ms",
      fun() -> ?T:track(T, R, [a], #{}) end},
     {track, 4, 'Opts', "neither timeout_ms nor deadline_ms",
      fun() -> ?T:track(T, R, [a], #{meta => m}) end},
     {track, 4, 'Opts', "option timeout_ms: not a timeout",
      fun() -> ?T:track(T, R, [a], #{timeout_ms => -1}) end},
     %% Checked even where deadline_ms wins over it.
     {track, 4, 'Opts', "option timeout_ms",
      fun() -> ?T:track(T, R, [a], #{deadline_ms => 1, timeout_ms => 1.5}) end},
     {track, 4, 'Opts', "option deadline_ms: not an integer or infinity",
      fun() -> ?T:track(T, R, [a], #{deadline_ms => "1"}) end},
     {track, 4, 'Opts', "not a map of options",
      fun() -> ?T:track(T, R, [a], [{timeout_ms, 1}]) end},
     {track, 1, 'Tracker', NotTracker, fun() -> ?T:track(NotT, R, [a], #{timeout_ms => 1}) end},
     {track, 2, 'Ref', NotKey, fun() -> ?T:track(T, BadRef, [a], #{timeout_ms => 1}) end},
     {track, 2, 'Ref', NotKey, fun() -> ?T:track(T, Huge, [a], #{timeout_ms => 1}) end},
     {record, 1, 'Tracker', NotTracker, fun() -> ?T:record(x, R, a, res) end},
     {record, 2, 'Ref', NotKey, fun() -> ?T:record(T, BadRef, a, res) end},
     {record, 5, 'Opts', "unknown option meta",
      fun() -> ?T:record(T, R, a, res, #{meta => true}) end},
     {record, 5, 'Opts', "option return_meta: not a boolean",
      fun() -> ?T:record(T, R, a, res, #{return_meta => yes}) end},
     {record, 5, 'Opts', "not a map", fun() -> ?T:record(T, R, a, res, true) end},
     {record, 1, 'Tracker', NotTracker, fun() -> ?T:record(NotT, R, a, res, #{}) end},
     {record, 2, 'Ref', NotKey, fun() -> ?T:record(T, <<1:3>>, a, res, #{return_meta => true}) end},
     {count, 1, 'Tracker', NotTracker, fun() -> ?T:count(NotT, R, a) end},
     {count, 2, 'Ref', NotKey, fun() -> ?T:count(T, BadRef, a) end},
     {get, 1, 'Tracker', NotTracker, fun() -> ?T:get(self(), R) end},
     {get, 2, 'Ref', NotKey, fun() -> ?T:get(T, BadRef) end},
     {peek, 1, 'Tracker', NotTracker, fun() -> ?T:peek(NotT, R) end},
     {peek, 2, 'Ref', NotKey, fun() -> ?T:peek(T, BadRef) end},
     {take, 1, 'Tracker', NotTracker, fun() -> ?T:take(NotT, R) end},
     {take, 2, 'Ref', NotKey, fun() -> ?T:take(T, BadRef) end},
     {cancel, 1, 'Tracker', NotTracker, fun() -> ?T:cancel(NotT, R) end},
     {cancel, 2, 'Ref', NotKey, fun() -> ?T:cancel(T, BadRef) end},
     {update, 3, 'Opts', "unknown option timeout ", fun() -> ?T:update(T, R, #{timeout => 1}) end},
     {update, 3, 'Opts', "option deadline_ms", fun() -> ?T:update(T, R, #{deadline_ms => 1.0}) end},
     {update, 3, 'Opts', "not a map", fun() -> ?T:update(T, R, meta) end},
     {update, 1, 'Tracker', NotTracker, fun() -> ?T:update(NotT, R, #{meta => m}) end},
     {update, 2, 'Ref', NotKey, fun() -> ?T:update(T, BadRef, #{}) end},
     {update_meta, 1, 'Tracker', NotTracker, fun() -> ?T:update_meta(NotT, R, m) end},
     {update_meta, 2, 'Ref', NotKey, fun() -> ?T:update_meta(T, BadRef, m) end},
     {cleanup_expired, 1, 'Tracker', NotTracker, fun() -> ?T:cleanup_expired(NotT) end},
     {cleanup_expired, 1, 'Tracker', NotTracker, fun() -> ?T:cleanup_expired(NotT, 0) end},
     {cleanup_expired, 2, 'NowMs', "not an integer", fun() -> ?T:cleanup_expired(T, 1.0) end},
     {cleanup_expired, 1, 'Tracker', NotTracker, fun() -> ?T:cleanup_expired(NotT, 0, 1) end},
     {cleanup_expired, 2, 'NowMs', "not an integer", fun() -> ?T:cleanup_expired(T, now, 1) end},
     {cleanup_expired, 3, 'Limit', "not a positive integer",
      fun() -> ?T:cleanup_expired(T, 0, 0) end},
     {drop_expired, 1, 'Tracker', NotTracker, fun() -> ?T:drop_expired(NotT) end},
     {drop_expired, 1, 'Tracker', NotTracker, fun() -> ?T:drop_expired(NotT, 0) end},
     {drop_expired, 2, 'NowMs', "not an integer", fun() -> ?T:drop_expired(T, infinity) end},
     {take_expired, 1, 'Tracker', NotTracker, fun() -> ?T:take_expired(NotT, 0) end},
     {take_expired, 2, 'NowMs', "not an integer", fun() -> ?T:take_expired(T, "0") end},
     {size, 1, 'Tracker', NotTracker, fun() -> ?T:size(NotT) end},
     {stats, 1, 'Tracker', NotTracker, fun() -> ?T:stats(NotT) end},
     {close, 1, 'Tracker', NotTracker, fun() -> ?T:close(NotT) end}].

%% Nothing changed for good arguments: a non-atom node is an unexpected node (not an
%% error), deadline_ms still wins over timeout_ms, and a refused call left no trace.
tracker_good_arguments_test() ->
    T = ?T:new(#{max_ops => 4, max_nodes_per_op => 4}),
    R = make_ref(),
    ?assertError(badarg, ?T:track(T, R, [a], #{timeout => 5000})),
    ?assertEqual({error, not_found}, ?T:get(T, R)),
    ?assertEqual(ok, ?T:track(T, R, [a], #{deadline_ms => 7, timeout_ms => infinity, meta => m})),
    ?assertMatch({ok, #{deadline := 7, meta := m}}, ?T:get(T, R)),
    ?assertEqual({ignored, unexpected_node}, ?T:record(T, R, "a", x)),
    ?assertEqual({ignored, unexpected_node}, ?T:count(T, R, 1)),
    ?assertEqual(ok, ?T:update(T, R, #{})),
    ?assertEqual({complete, [{a, x}], m}, ?T:record(T, R, a, x, #{return_meta => true})),
    ?assertEqual(ok, ?T:track(T, R, [], #{timeout_ms => infinity})),
    ?assertEqual(1, ?T:size(T)),
    ?assertEqual(ok, ?T:close(T)).

%% The issue's misuses as the shell prints them (erl_error:format_exception/3).
issue_misuses_test() ->
    T = ?T:new(),
    R = make_ref(),
    Typo = shell(fun() -> ?T:track(T, R, [a@h], #{timeout_ms => 1, timeout => 5000}) end),
    ?assertNotEqual(nomatch, string:find(Typo, "in function  phn_tracker:track/4")),
    ?assertNotEqual(nomatch, string:find(Typo, "*** argument 4: Opts: unknown option timeout "
                                               "(known: deadline_ms, meta, timeout_ms)")),
    ?assertEqual(nomatch, string:find(Typo, "deadline/1")),
    Str = shell(fun() -> ?T:track(T, R, ["a@h"], #{timeout_ms => 1}) end),
    ?assertNotEqual(nomatch, string:find(Str, "in function  phn_tracker:track/4")),
    ?assertNotEqual(nomatch, string:find(Str, "called as phn_tracker:track(")),
    ?assertNotEqual(nomatch, string:find(Str, "*** argument 3: Expected: not a proper list")),
    ?assertEqual(nomatch, string:find(Str, "phn_nif")),
    Cancel = shell(fun() -> phn_cnode:cancel_operation(foo) end),
    ?assertNotEqual(nomatch, string:find(Cancel, "*** argument 1: TxRef: not a reference")),
    ?T:close(T).

shell(Fun) ->
    try Fun() of
        V -> erlang:error({no_raise, V})
    catch
        Class:Reason:Stack ->
            lists:flatten(erl_error:format_exception(Class, Reason, Stack))
    end.

%% phn_nif is private: every NIF refuses a bad term with a bare badarg (the public modules
%% name the argument).
nif_badarg_test_() ->
    Cases = [{record_response, [x, a, r, results]},
             {all_responded, [x]},
             {process_response, [x, a, r]},
             {split_list, [x, children, 1000]},
             {split_map, [x, #{}, children_data, 10]},
             {populate_forward, [x, [a], c]},
             {cleanup_expired, [x, 0]},
             {partition_eval, [bogus, #{}, [], undefined, 0, #{}]},
             {partition_sync_log, [x, []]},
             {tracker_new, [0, 1]},
             {tracker_track, [x, r, [], 0, none]},
             {tracker_record, [x, r, a, res, false]},
             {tracker_count, [x, r, a]},
             {tracker_get, [x, r]},
             {tracker_peek, [x, r]},
             {tracker_take, [x, r]},
             {tracker_cancel, [x, r]},
             {tracker_update, [x, r, keep, keep]},
             {tracker_cleanup, [x, 0, 1, true]},
             {tracker_size, [x]},
             {tracker_stats, [x]},
             {tracker_close, [x]}],
    Exported = [FA || {F, A} = FA <- phn_nif:module_info(exports), F =/= module_info,
                      A > 0],
    [?_assertEqual(lists:sort(Exported), lists:sort([{F, length(A)} || {F, A} <- Cases]))
     | [{atom_to_list(F), ?_assertError(badarg, apply(phn_nif, F, A))} || {F, A} <- Cases]].

%% The drop-in keeps ProcessHub's contract (REFERENCE.md: bad input raises what the
%% original raises; phn_10/phn_11 compare each with the oracle): every function raises on
%% a bad argument. Only set_default_mode/1, the project's own, names its argument.
drop_in_raises_test_() ->
    M = phn_request_manager,
    Cases = [{new, [x, h, [], []]},
             {compose_sub_requests, [x]},
             {compose_sub_requests, [x, a@b]},
             {process_response, [x, a, r]},
             {finalize, [x, #{}]},
             {store, [x, #{}]},
             {get, [x, r]},
             {update, [x, #{}]},
             {remove, [x, r]},
             {cleanup_expired, [x]},
             {cleanup_expired, [x, 0]},
             {handle_response, [x, r, a, res]},
             {handle_await, [x, r, {self(), t}]},
             {handle_timeout, [x, r, {self(), t}]},
             {'expired?', [x]},
             {'expired?', [x, 0]},
             {'all_responded?', [x]},
             {set_awaiter, [x, nil]},
             {record_response, [x, a, r, results]},
             {with_partition_check, [x, fun() -> ok end]},
             {load_strategies, [x]},
             {send_response, [t, x, r]},
             {request_to_opts, [x]},
             {migration_request, [x, a, []]},
             {migration_request, [#{}, a, [], x]},
             {contraction_request, [x, x]},
             {contraction_request, [#{}, [], x]},
             {populate_forward, [x, [a], c]},
             {set_default_mode, [x]}],
    %% split/1 returns [Req] for anything it does not split, as ProcessHub; default_mode/0
    %% takes nothing.
    Exported = [FA || {F, _} = FA <- M:module_info(exports), F =/= module_info,
                      FA =/= {split, 1}, FA =/= {default_mode, 0}],
    [?_assertEqual(lists:sort(Exported), lists:usort([{F, length(A)} || {F, A} <- Cases]))
     | [{atom_to_list(F), ?_assertException(error, _, apply(M, F, A))} || {F, A} <- Cases]].

common_raises_test_() ->
    C = phn_rm_common,
    Cases = [{kw_get, [k, x, d]},
             {handler_action, [1]},
             {handler_action, ['NotElixir']},
             {mapset_from_list, [x]},
             {mapset_to_list, [x]},
             {'mapset_member?', [x, e]},
             {handle_response, [phn_request_manager, x, r, a, res]},
             {handle_await, [phn_request_manager, x, r, {self(), t}]}],
    [{atom_to_list(F), ?_assertException(error, _, apply(C, F, A))} || {F, A} <- Cases].

set_default_mode_names_mode_test() ->
    raises(fun() -> phn_request_manager:set_default_mode(tracker_mode) end,
           {phn_request_manager, set_default_mode}, 1, 'Mode', "not one of map, tracker, cnode"),
    ?assertEqual(map, phn_request_manager:default_mode()).

%% Elixir's ArgumentError names the option too (ErlangError.normalize/2 calls
%% format_error/2). Run only where elixir is installed.
elixir_message_test_() ->
    case os:find_executable("elixir") of
        false -> [];
        Elixir ->
            {timeout, 120,
             fun() ->
                 Ebin = filename:dirname(code:which(phn_errors)),
                 Script = "t = :phn_tracker.new(); try do :phn_tracker.track(t, make_ref(), "
                          "[:a@h], %{timeout: 5000}) rescue e -> IO.write(Exception.message(e)) "
                          "end",
                 Out = os:cmd(Elixir ++ " -pa " ++ Ebin ++ " -e '" ++ Script ++ "'"),
                 ?assertNotEqual(nomatch,
                                 string:find(Out, "4th argument: Opts: unknown option timeout "
                                                  "(known: deadline_ms, meta, timeout_ms)"), Out)
             end}
    end.
