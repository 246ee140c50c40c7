%% @doc The long_schedule watch shared by the scheduling suites (the technique of
%% phn_12_schedule_tests): run the work in a fresh process, watched by
%% `erlang:system_monitor' `long_schedule' from just before the work until that process
%% has exited, and return the reports about it. The monitor never reports about the
%% monitoring process itself, hence the worker; a long schedule is reported when the
%% process is next scheduled out, hence watching until it is gone (its exit included).
-module(phn_watch).

-include_lib("eunit/include/eunit.hrl").

-export([watch/2, watch/3, quiet/3, quiet/4, quiet_retry/5, quiet_strict/5, wait_until/2,
         preemptions/0]).

-define(LONG_MS, 5).

%% @doc Run `Work(Prepare())' in a fresh process, watching only `Work' and the exit.
-spec watch(fun(() -> Input), fun((Input) -> term())) -> [term()].
watch(Prepare, Work) ->
    watch(Prepare, Work, []).

%% @doc `watch/2' with spawn options for the worker. A worker that receives big terms can
%% be given a heap large enough to hold them (`{min_heap_size, Words}'), so that what is
%% watched is the calls, not the garbage collections of a growing heap (which the VM
%% reports as long schedules of the process whatever code built the terms).
-spec watch(fun(() -> Input), fun((Input) -> term()), [term()]) -> [term()].
watch(Prepare, Work, SpawnOpts) ->
    element(1, watch_counted(Prepare, Work, SpawnOpts)).

%% `watch/3', and whether the OS or the hypervisor preempted a normal scheduler thread
%% while watching.
watch_counted(Prepare, Work, SpawnOpts) ->
    Self = self(),
    {Pid, Ref} = spawn_opt(fun() ->
        Input = Prepare(),
        Self ! {ready, self()},
        receive go -> ok end,
        Work(Input),
        Self ! {done, self()},
        receive stop -> ok end
    end, [monitor | SpawnOpts]),
    receive {ready, Pid} -> ok end,
    wait_until_waiting(Pid),
    Before = preemptions(),
    Previous = erlang:system_monitor(self(), [{long_schedule, ?LONG_MS}]),
    Pid ! go,
    receive {done, Pid} -> ok; {'DOWN', Ref, process, Pid, Why} -> error({worker_died, Why}) end,
    Pid ! stop,
    receive {'DOWN', Ref, process, Pid, _} -> ok end,
    Reports = collect(Pid, []),
    restore(Previous),
    {Reports, preempted(Before, preemptions())}.

%% @doc `Work(Prepare())' returns `Expected' and no long schedule is reported.
-spec quiet(fun(() -> Input), fun((Input) -> term()), term()) -> ok.
quiet(Prepare, Work, Expected) ->
    quiet(Prepare, Work, Expected, []).

%% @doc `quiet/3' with spawn options for the worker (see `watch/3').
-spec quiet(fun(() -> Input), fun((Input) -> term()), term(), [term()]) -> ok.
quiet(Prepare, Work, Expected, SpawnOpts) ->
    Self = self(),
    Reports = watch(Prepare, fun(Input) -> Self ! {result, Work(Input)}, ok end, SpawnOpts),
    receive {result, R} -> ?assertEqual(Expected, R) after 0 -> ?assert(false) end,
    ?assertEqual([], Reports),
    ok.

%% @doc `quiet/4', up to `Attempts' times: passes as soon as one attempt is silent.
%%
%% The monitor measures wall time, so when the OS takes the CPU from a scheduler thread
%% (another program, or this VM's own dirty schedulers and threads competing for the two
%% cores, or the hypervisor stalling a virtual CPU) the process that was running is
%% reported, whatever it ran. The OS counts those preemptions per thread
%% (nonvoluntary_ctxt_switches in /proc) and the stolen time (/proc/stat): an attempt
%% with reports while the normal scheduler threads were never preempted shows a real
%% hold, and fails at once; an attempt whose reports may be preemption is retried. If
%% every attempt was preempted, nothing can be concluded from the monitor, and that is
%% what the test says (printed), rather than a verdict either way. Without /proc every
%% report fails.
-spec quiet_retry(fun(() -> Input), fun((Input) -> term()), term(), [term()], pos_integer()) -> ok.
quiet_retry(Prepare, Work, Expected, SpawnOpts, Attempts) ->
    retry(Prepare, Work, Expected, SpawnOpts, Attempts, lenient, []).

%% @doc `quiet_retry/5' for work that is short (a few calls): one silent attempt passes, a
%% report without preemption fails at once, and reports in every attempt fail too, even
%% when each was preempted. A call that holds a scheduler is reported every time; a short
%% correct call is rarely the one running when the OS takes the CPU, let alone in every
%% attempt.
-spec quiet_strict(fun(() -> Input), fun((Input) -> term()), term(), [term()], pos_integer()) -> ok.
quiet_strict(Prepare, Work, Expected, SpawnOpts, Attempts) ->
    retry(Prepare, Work, Expected, SpawnOpts, Attempts, strict, []).

retry(_Prepare, _Work, _Expected, _SpawnOpts, 0, strict, Seen) ->
    ?assertEqual({[], every_attempt_reported}, {lists:reverse(Seen), every_attempt_reported});
retry(_Prepare, _Work, _Expected, _SpawnOpts, 0, lenient, Seen) ->
    io:format(user, "~nlong_schedule inconclusive: the OS or the hypervisor preempted a "
              "scheduler thread in every attempt; reports ~p~n", [lists:reverse(Seen)]);
retry(Prepare, Work, Expected, SpawnOpts, Attempts, Mode, Seen) ->
    Self = self(),
    {Reports, Preempted} =
        watch_counted(Prepare, fun(Input) -> Self ! {result, Work(Input)}, ok end, SpawnOpts),
    receive {result, R} -> ?assertEqual(Expected, R) after 0 -> ?assert(false) end,
    case {Reports, Preempted} of
        {[], _} -> ok;
        {_, false} -> ?assertEqual({[], no_preemption}, {Reports, no_preemption});
        {_, true} -> retry(Prepare, Work, Expected, SpawnOpts, Attempts - 1, Mode, [Reports | Seen])
    end.

%% @doc A count that grows whenever a normal scheduler thread of this VM may have lost
%% its CPU: the threads' involuntary context switches (nonvoluntary_ctxt_switches in
%% /proc), plus the time the hypervisor took from this machine's virtual CPUs (steal
%% ticks of /proc/stat: a stalled virtual CPU is no context switch to the guest), or
%% unknown. The benchmark harness uses it too.
preemptions() ->
    case scheduler_tids() of
        unknown -> unknown;
        Tids -> lists:sum([preemptions(T) || T <- Tids]) + steal_ticks()
    end.

%% The steal column of /proc/stat's cpu line (0 where it is not reported).
steal_ticks() ->
    case file:read_file("/proc/stat") of
        {ok, <<"cpu ", Rest/binary>>} ->
            [Line | _] = binary:split(Rest, <<"\n">>),
            case string:lexemes(binary_to_list(Line), " ") of
                [_User, _Nice, _Sys, _Idle, _Iowait, _Irq, _Softirq, Steal | _] ->
                    list_to_integer(Steal);
                _ -> 0
            end;
        _ -> 0
    end.

%% The normal scheduler threads live as long as the VM: listed once.
scheduler_tids() ->
    case persistent_term:get({?MODULE, scheduler_tids}, undefined) of
        undefined ->
            case file:list_dir("/proc/self/task") of
                {ok, Tids} ->
                    L = [T || T <- Tids, is_scheduler(T)],
                    persistent_term:put({?MODULE, scheduler_tids}, L),
                    L;
                _ -> unknown
            end;
        L -> L
    end.

preemptions(Tid) ->
    case file:read_file("/proc/self/task/" ++ Tid ++ "/status") of
        {ok, Status} ->
            case re:run(Status, "nonvoluntary_ctxt_switches:\\s*(\\d+)", [{capture, all_but_first, list}]) of
                {match, [N]} -> list_to_integer(N);
                nomatch -> 0
            end;
        _ -> 0
    end.

%% Normal scheduler threads are named "<n>_scheduler".
is_scheduler(Tid) ->
    case file:read_file("/proc/self/task/" ++ Tid ++ "/comm") of
        {ok, Comm} -> re:run(Comm, "^[0-9]+_scheduler") =/= nomatch;
        _ -> false
    end.

preempted(unknown, _) -> false;
preempted(_, unknown) -> false;
preempted(Before, After) -> After > Before.

%% @doc Poll `Pred' (every 10 ms, at most `Tries' times) until it holds; false if never.
%% For state that settles asynchronously (monitor callbacks, the tracker's reaper): it
%% waits for an outcome, it does not time anything.
-spec wait_until(fun(() -> boolean()), pos_integer()) -> boolean().
wait_until(Pred, Tries) ->
    case Pred() of
        true -> true;
        false when Tries =< 1 -> false;
        false -> timer:sleep(10), wait_until(Pred, Tries - 1)
    end.

wait_until_waiting(Pid) ->
    case erlang:process_info(Pid, status) of
        {status, waiting} -> ok;
        _ -> timer:sleep(1), wait_until_waiting(Pid)
    end.

restore(undefined) -> erlang:system_monitor(undefined);
restore({Pid, Opts}) -> erlang:system_monitor(Pid, Opts).

collect(Pid, Acc) ->
    receive
        {monitor, Pid, long_schedule, Info} -> collect(Pid, [Info | Acc]);
        {monitor, _Other, long_schedule, _} -> collect(Pid, Acc)
    after 100 ->
        lists:reverse(Acc)
    end.
