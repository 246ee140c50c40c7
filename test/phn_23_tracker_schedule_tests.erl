%% @doc No phn_tracker call holds a normal scheduler for long, at the sizes of the issue:
%% with erlang:system_monitor long_schedule (5 ms) watching (phn_watch, the technique of
%% phn_12_schedule_tests), 1 000 000 operations are tracked and recorded, cleaned up when
%% expired, and freed by their owner's exit; huge Expected lists and Results, and an
%% operation of 1 000 000 children in tracker mode, stay silent too. Big copies run on
%% dirty CPU schedulers (not reported, as they do not block a normal scheduler); big
%% tables are freed by the reaper thread, not in the exiting owner's monitor callback.
%% hold_test_ runs every input of issue 13 item 10 (terms whose size shows only when
%% walked, references past the key cap, many chunks to free, a dirty get holding the lock)
%% with phn_watch:quiet_strict/5: each failed on the code before the fix.
-module(phn_23_tracker_schedule_tests).

-include_lib("eunit/include/eunit.hrl").

-define(T, phn_tracker).
-define(MILLION, 1000000).

schedule_test_() ->
    {timeout, 900, [
        {"track 1 000 000 operations, record 100 000 of them, owner exits",
         {timeout, 300, fun track_million/0}},
        {"cleanup_expired/3 and drop_expired/2 of 1 000 000 expired operations",
         {timeout, 300, fun cleanup_million/0}},
        {"owner death with 1 000 000 operations", {timeout, 300, fun owner_death_million/0}},
        {"an operation of 300 000 nodes", {timeout, 120, fun huge_expected/0}},
        {"Results of 1 000 000 elements", {timeout, 120, fun huge_results/0}},
        {"binaries of 64 MB and a bitstring in meta and results", {timeout, 120, fun huge_binaries/0}},
        {"tracker mode: 1 000 000 children, 1000 chunks", {timeout, 300, fun tracker_mode_big/0}},
        {"the monitor does report a long call", {timeout, 60, fun monitor_works/0}}
    ]}.

%% The inputs of issue 13 item 10, each of which held a normal scheduler for 15-154 ms:
%% terms whose size shows only when walked (a tuple's arity, a map's pairs, a fun's
%% environment), references far past the key cap, operations and tables whose frees are
%% many, and a dirty get/peek holding the lock that normal-scheduler calls wait for.
hold_test_() ->
    {timeout, 900, [
        {"record of a 5 000 000-element tuple and of a 1 000 000-key map",
         {timeout, 120, fun record_wide_terms/0}},
        {"meta of a 1 000 000-key map and of a fun capturing 64 MB",
         {timeout, 120, fun meta_wide_terms/0}},
        {"a 200 MB binary and a 3 000 000-element list as the reference",
         {timeout, 120, fun huge_references/0}},
        {"cancel and drop_expired of an operation with 300 000 chunks",
         {timeout, 120, fun many_chunks/0}},
        {"close of 2000 operations x 150 chunks", {timeout, 120, fun close_many_chunks/0}},
        {"drop_expired and take_expired of 2000 expired operations x 600 chunks",
         {timeout, 120, fun expire_many_chunks/0}},
        {"owner exit with 2000 operations x 150 chunks", {timeout, 120, fun exit_many_chunks/0}},
        {"record and size while another process gets and peeks a big operation",
         {timeout, 120, fun lock_not_held_while_building/0}}
    ]}.

record_wide_terms() ->
    strict(
      fun() -> {?T:new(), erlang:make_tuple(5000000, x), maps:from_list([{I, I} || I <- lists:seq(1, ?MILLION)])} end,
      fun({T, Tuple, Map}) ->
              ok = ?T:track(T, r, [a, b, c], far()),
              {pending, 2} = ?T:record(T, r, a, Tuple),
              {pending, 1} = ?T:record(T, r, b, Map),
              ok = ?T:cancel(T, r),
              ?T:size(T)
      end,
      0, big_heap()).

meta_wide_terms() ->
    strict(
      fun() ->
              Big = binary:copy(<<7>>, 64 bsl 20),
              {?T:new(), maps:from_list([{I, I} || I <- lists:seq(1, ?MILLION)]),
               fun() -> byte_size(Big) end}
      end,
      fun({T, Map, Fun}) ->
              ok = ?T:track(T, r, [a], #{timeout_ms => 60000, meta => Map}),
              ok = ?T:update_meta(T, r, Fun),
              ok = ?T:track(T, r2, [a], #{timeout_ms => 60000, meta => Fun}),
              ok = ?T:cancel(T, r),
              ok = ?T:cancel(T, r2),
              ?T:size(T)
      end,
      0, big_heap()).

%% The hold cases are short work: a report in every attempt is a hold (phn_watch).
strict(Prepare, Work, Expected) ->
    strict(Prepare, Work, Expected, []).

strict(Prepare, Work, Expected, SpawnOpts) ->
    phn_watch:quiet_strict(fun() -> settle(), Prepare() end, Work, Expected, SpawnOpts, 5).

%% Refused (badarg) after a walk that stops at the cap, before any encoding.
huge_references() ->
    strict(
      fun() -> {?T:new(), binary:copy(<<7>>, 200 bsl 20), lists:seq(1, 3000000)} end,
      fun({T, Bin, List}) ->
              [badarg = catch_error(F) || F <- [fun() -> ?T:track(T, Bin, [a], far()) end,
                                                fun() -> ?T:get(T, List) end,
                                                fun() -> ?T:record(T, List, a, x) end,
                                                fun() -> ?T:count(T, Bin, a) end,
                                                fun() -> ?T:track(T, {List}, [a], far()) end]],
              ?T:size(T)
      end,
      0, big_heap()).

catch_error(F) ->
    try F() of _ -> returned catch error:Reason -> Reason end.

%% Freeing 300 000 chunks is left to the reaper thread.
many_chunks() ->
    N = 300000,
    Fill = fun(Opts) ->
                   fun() ->
                           T = ?T:new(),
                           ok = ?T:track(T, r, [{a, N + 1}], Opts),
                           [{pending, 1} = ?T:record(T, r, a, [I]) || I <- lists:seq(1, N)],
                           T
                   end
           end,
    strict(Fill(far()), fun(T) -> {?T:cancel(T, r), ?T:size(T)} end, {ok, 0}),
    Now = erlang:monotonic_time(millisecond),
    strict(Fill(#{deadline_ms => Now - 1}), fun(T) -> {?T:drop_expired(T, Now), ?T:size(T)} end, {1, 0}),
    strict(Fill(#{deadline_ms => Now - 1}), fun(T) -> length(?T:take_expired(T, Now)) end, 1),
    settle().

fill_chunks(T, Ops, Chunks) ->
    fill_chunks(T, Ops, Chunks, far()).

fill_chunks(T, Ops, Chunks, Opts) ->
    [begin
         ok = ?T:track(T, I, [{a, Chunks + 1}], Opts),
         [{pending, 1} = ?T:record(T, I, a, [C]) || C <- lists:seq(1, Chunks)]
     end || I <- lists:seq(1, Ops)],
    T.

close_many_chunks() ->
    strict(fun() -> fill_chunks(?T:new(), 2000, 150) end,
          fun(T) -> {?T:close(T), ?T:size(T)} end, {ok, 0}),
    settle().

%% Each operation is cheap enough to free inline, but a batch of them is not: a cleanup
%% call counts their frees in its budget.
expire_many_chunks() ->
    Now = erlang:monotonic_time(millisecond),
    Fill = fun() -> fill_chunks(?T:new(), 2000, 600, #{deadline_ms => Now - 1}) end,
    strict(Fill, fun(T) -> {?T:drop_expired(T, Now), ?T:size(T)} end, {2000, 0}),
    strict(Fill, fun(T) -> length(?T:take_expired(T, Now)) end, 2000),
    settle().

%% The work is only the exit: the monitor callback frees (or hands over) the table.
exit_many_chunks() ->
    strict(fun() -> fill_chunks(?T:new(), 2000, 150) end, fun(T) -> ?T:size(T) end, 2000),
    settle().

%% A helper process gets and peeks an operation holding 2 000 000 elements (dirty calls)
%% again and again; the watched worker records into another operation and reads the size
%% on its normal scheduler, waiting for the lock whenever the helper holds it.
lock_not_held_while_building() ->
    strict(
      fun() ->
              T = ?T:new(),
              Big = lists:seq(1, 2000000),
              ok = ?T:track(T, big, [a, b], #{timeout_ms => 600000, meta => Big}),
              {pending, 1} = ?T:record(T, big, a, Big),
              Self = self(),
              Helper = spawn(fun() -> get_loop(T, Self) end),
              receive {getting, Helper} -> ok end,
              {T, Helper}
      end,
      fun({T, Helper}) ->
              ok = ?T:track(T, small, [{a, 400}], far()),
              Res = [{?T:record(T, small, a, [I]), ?T:size(T)} || I <- lists:seq(1, 399)],
              exit(Helper, kill),
              {lists:usort(Res), ?T:cancel(T, small)}
      end,
      {[{{pending, 1}, 2}], ok}, big_heap()).

get_loop(T, Parent) ->
    {ok, _} = ?T:get(T, big),
    Parent ! {getting, self()},
    get_loop(T).

%% A pause between calls leaves the CPU to the worker (two cores: this process, the dirty
%% scheduler and the worker's would compete, and the watch would call every attempt
%% preempted).
get_loop(T) ->
    {ok, _} = ?T:get(T, big),
    {ok, _, 1} = ?T:peek(T, big),
    timer:sleep(2),
    get_loop(T).

far() -> #{timeout_ms => 600000}.

%% The worker owns the tracker: its exit (freeing 1 000 000 operations) is watched too.
track_million() ->
    quiet(
      fun() -> ?T:new() end,
      fun(T) ->
              track_n(T, ?MILLION, far()),
              record_every(T, 10, ?MILLION),
              {?T:size(T), maps:get(kept_terms, ?T:stats(T))}
      end,
      {?MILLION, ?MILLION div 10}),
    settle().

%% Holding 1 000 000 infos on the caller's heap costs garbage collections that the VM
%% reports as long schedules of the caller (plain Erlang building the same list is
%% reported too), so the watched work takes them in steps of 10 000, as a coordinator
%% would, and drops them; drop_expired/2 (what the drop-in uses) copies nothing out.
cleanup_million() ->
    Now = erlang:monotonic_time(millisecond),
    Fill = fun() ->
                   T = ?T:new(),
                   track_n(T, ?MILLION, #{deadline_ms => Now - 1}),
                   record_every(T, 10, ?MILLION),
                   T
           end,
    quiet(Fill, fun(T) -> {in_steps(T, Now, 0), ?T:size(T)} end, {?MILLION, 0}),
    quiet(Fill, fun(T) -> {?T:drop_expired(T, Now), ?T:size(T)} end, {?MILLION, 0}),
    settle().

in_steps(T, Now, N) ->
    case ?T:cleanup_expired(T, Now, 10000) of
        {Infos, more} -> in_steps(T, Now, N + length(Infos));
        {Infos, done} -> N + length(Infos)
    end.

%% The work is only the exit: the monitor callback hands the table to the reaper.
owner_death_million() ->
    Self = self(),
    quiet(
      fun() ->
              T = ?T:new(),
              track_n(T, ?MILLION, far()),
              record_every(T, 10, ?MILLION),
              Self ! {tracker, T},
              T
      end,
      fun(T) -> ?T:size(T) end,
      ?MILLION),
    Trackers = flush_trackers(),
    ?assertNotEqual([], Trackers),
    [?assertMatch(#{ops := 0, closed := true}, ?T:stats(T)) || T <- Trackers],
    settle().

flush_trackers() ->
    receive {tracker, T} -> [T | flush_trackers()] after 0 -> [] end.

huge_expected() ->
    N = 300000,
    Nodes = [list_to_atom("h" ++ integer_to_list(I)) || I <- lists:seq(1, N)],
    quiet(
      fun() -> {?T:new(#{max_nodes_per_op => N}), Nodes} end,
      fun({T, Ns}) ->
              ok = ?T:track(T, big, Ns, #{timeout_ms => 60000, meta => Ns}),
              [{pending, _} = ?T:record(T, big, Nd, [Nd]) || Nd <- tl(Ns)],
              {ok, Info} = ?T:get(T, big),
              {complete, Collected, Meta} =
                  ?T:record(T, big, hd(Ns), [x], #{return_meta => true}),
              ok = ?T:track(T, big2, Ns, far()),
              ok = ?T:cancel(T, big2),
              {length(maps:get(collected, Info)), length(Collected), length(Meta)}
      end,
      {N - 1, N, N}, big_heap()).

huge_results() ->
    quiet(
      fun() -> {?T:new(), lists:seq(1, ?MILLION)} end,
      fun({T, Big}) ->
              ok = ?T:track(T, r, [a, b], #{timeout_ms => 60000, meta => Big}),
              {pending, 1} = ?T:record(T, r, a, Big),
              {ok, _} = ?T:get(T, r),
              ok = ?T:update_meta(T, r, Big),
              {ok, _, 1} = ?T:peek(T, r),
              {complete, [{a, A}, {b, B}]} = ?T:record(T, r, b, Big),
              ok = ?T:track(T, r2, [a], #{deadline_ms => 0, meta => Big}),
              [#{meta := M}] = ?T:cleanup_expired(T, 1),
              ok = ?T:track(T, r3, [a], far()),
              {complete, [{a, _}]} = ?T:record(T, r3, a, Big),
              {length(A), length(B), length(M)}
      end,
      {?MILLION, ?MILLION, ?MILLION}, big_heap()).

%% Kept terms are written as images (a binary's bytes copied) and read back: a big binary
%% counts by its size, so its copies run dirty; a bitstring with trailing bits (no size in the
%% NIF API) too.
huge_binaries() ->
    quiet(
      fun() -> {?T:new(), binary:copy(<<7>>, 64 bsl 20), <<1:3>>} end,
      fun({T, Big, Bits}) ->
              ok = ?T:track(T, r, [a, b, c], #{timeout_ms => 60000, meta => Big}),
              {pending, 2} = ?T:record(T, r, a, [Big]),
              {pending, 1} = ?T:record(T, r, b, Bits),
              ok = ?T:update_meta(T, r, {Big, Bits}),
              {ok, {Big, Bits}, 1} = ?T:peek(T, r),
              {ok, #{collected := [{a, [Big]}, {b, Bits}]}} = ?T:get(T, r),
              {complete, [{a, [A]}, {b, B}, {c, C}], {M, _}} =
                  ?T:record(T, r, c, Big, #{return_meta => true}),
              {byte_size(A), B, byte_size(C), byte_size(M)}
      end,
      {64 bsl 20, <<1:3>>, 64 bsl 20, 64 bsl 20}).

%% phn_request_manager in tracker mode with one operation of 1 000 000 children over 10
%% nodes (100 chunks each): store, 1000 chunk responses, completion with all the results.
tracker_mode_big() ->
    Nodes = [list_to_atom("m" ++ integer_to_list(I) ++ "@host") || I <- lists:seq(1, 10)],
    quiet(
      fun() ->
              Op0 = phn_gen:operation(Nodes, 100000, []),
              Op = Op0#{expires_at := erlang:monotonic_time(millisecond) + 600000},
              Chunks = [{N, [{{child, I}, {ok, self()}} || I <- lists:seq(C * 1000 + 1, C * 1000 + 1000)]}
                        || N <- Nodes, C <- lists:seq(0, 99)],
              {#{hub_id => test_hub, pending_operations => ?T:new()}, Op, Chunks}
      end,
      fun({S0, Op, Chunks}) ->
              Ref = maps:get(transaction_id, Op),
              Tag = make_ref(),
              S1 = phn_request_manager:store(S0, Op#{awaiter := {self(), Tag}}),
              S = lists:foldl(fun({N, R}, Acc) ->
                                      {noreply, Acc1} = phn_request_manager:handle_response(Acc, Ref, N, R),
                                      Acc1
                              end, S1, Chunks),
              Reply = receive {Tag, Rep} -> Rep after 60000 -> none end,
              {length(maps:get(started, Reply)), maps:get(errors, Reply),
               ?T:size(phn_rm_tracker:tracker(S))}
      end,
      {?MILLION, [], 0}, big_heap()).

%% The control: a long BIF call on a normal scheduler is reported (a few attempts, as a
%% collection moved to a dirty scheduler can cut one short).
monitor_works() ->
    Attempts = [phn_watch:watch(fun() -> lists:seq(1, 5000000) end,
                                fun(List) -> tuple_size(list_to_tuple(List)) end)
                || _ <- lists:seq(1, 5)],
    ?assertNotEqual([], lists:append(Attempts)).

%%% Helpers

%% Each case runs up to 5 times and passes when one run is silent (see
%% phn_watch:quiet_retry/5: these runs take seconds, long enough for a loaded host to
%% deschedule a scheduler thread now and then; a hold by a call would show every time).
quiet(Prepare, Work, Expected) ->
    quiet(Prepare, Work, Expected, []).

quiet(Prepare, Work, Expected, SpawnOpts) ->
    %% Each attempt starts once the reaper thread of earlier tests is idle: freeing a
    %% million operations takes a core, and on this 2-core host the OS then deschedules a
    %% scheduler thread, which the monitor reports as a long schedule of the worker.
    Settled = fun() -> settle(), Prepare() end,
    phn_watch:quiet_retry(Settled, Work, Expected, SpawnOpts, 5).

%% Room for the big terms these workers receive (see phn_watch:watch/3): 64 M words.
big_heap() ->
    [{min_heap_size, 64 * 1024 * 1024}].

track_n(T, N, Opts) ->
    track_n(T, 1, N, Opts).

track_n(_T, I, N, _Opts) when I > N -> ok;
track_n(T, I, N, Opts) ->
    ok = ?T:track(T, I, [a, b, c], Opts),
    track_n(T, I + 1, N, Opts).

record_every(T, Step, N) ->
    lists:foreach(fun(I) -> {pending, 2} = ?T:record(T, I, b, [{child, I}]) end,
                  lists:seq(1, N, Step)).

%% Wait for the reaper to have freed every closed table (no timing asserted).
settle() ->
    ?assert(phn_watch:wait_until(fun() -> maps:get(reaping_ops, ?T:stats()) =:= 0 end, 3000)).
