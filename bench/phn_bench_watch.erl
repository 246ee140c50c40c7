%% Runs the benchmark in a worker watched by erlang:system_monitor long_schedule at
%% 1 ms (the smallest it takes), to report the longest scheduler hold of the run, charged
%% to the implementation that was running (the worker marks each round) or to the
%% harness (set-up and the garbage collections between rounds). The monitor never
%% reports about itself, so the work runs in another process.
%%
%% The monitor measures wall time: when the OS takes the CPU from a scheduler thread
%% (another program on this shared 2-core host, or this VM's own dirty schedulers), the
%% process that was running is reported whatever it ran. As test/phn_watch.erl does, each
%% round counts the OS's involuntary context switches of the normal scheduler threads
%% (/proc): a report in a round without any is a real hold. A report in a preempted round
%% proves nothing either way, so phn_bench runs that round again (up to twice): a real
%% hold is deterministic and reports every time.
-module(phn_bench_watch).

-export([run/1, mark/1, round_end/1, holds/1, hold_results/1, preemptions/0]).

run(Work) ->
    Self = self(),
    {Pid, Ref} = spawn_monitor(fun() ->
        put(phn_bench_watcher, Self),
        Self ! {result, self(), Work()}
    end),
    Previous = erlang:system_monitor(self(), [{long_schedule, 1}]),
    {Result, Holds} = loop(#{pid => Pid, ref => Ref, current => harness, round => [],
                             holds => #{}}),
    case Previous of
        undefined -> erlang:system_monitor(undefined);
        {P, O} -> erlang:system_monitor(P, O)
    end,
    {Result, Holds}.

%% Called by the worker: from now on, charge long schedules to Name.
mark(Name) ->
    get(phn_bench_watcher) ! {mark, self(), Name},
    ok.

%% Called by the worker at the end of a round: whether the OS or the hypervisor
%% preempted a normal scheduler thread during it (true, false, or unknown without /proc).
round_end(Preempted) ->
    get(phn_bench_watcher) ! {round_end, self(), Preempted},
    ok.

%% Called by the worker: the holds charged to Name so far, [{Ms, In, Out, Preempted}].
holds(Name) ->
    get(phn_bench_watcher) ! {holds, self(), Name},
    receive {phn_bench_holds, Hs} -> Hs end.

%% Holds: #{Charged => [{Ms, In, Out, Preempted}]}; the reports of the running round wait
%% in `round' until its end says whether it was preempted.
loop(#{pid := Pid, ref := Ref} = S) ->
    receive
        {mark, Pid, Name} ->
            loop((close(S, unknown))#{current := Name});
        {round_end, Pid, Preempted} ->
            loop(close(S, Preempted));
        {holds, Pid, Name} ->
            %% Reports about the worker sent before this request are in the queue first.
            S1 = close(drain(S), unknown),
            Pid ! {phn_bench_holds, maps:get(Name, maps:get(holds, S1), [])},
            loop(S1);
        {monitor, Pid, long_schedule, Info} ->
            loop(report(S, Info));
        {monitor, _, long_schedule, _} ->
            loop(S);
        {result, Pid, Result} ->
            receive {'DOWN', Ref, process, Pid, _} -> ok end,
            {Result, maps:get(holds, close(S, unknown))};
        {'DOWN', Ref, process, Pid, Why} ->
            error({bench_failed, Why})
    end.

report(#{round := Round} = S, Info) ->
    H = {proplists:get_value(timeout, Info), proplists:get_value(in, Info),
         proplists:get_value(out, Info)},
    S#{round := [H | Round]}.

drain(#{pid := Pid} = S) ->
    receive {monitor, Pid, long_schedule, Info} -> drain(report(S, Info))
    after 0 -> S
    end.

close(#{round := []} = S, _Preempted) ->
    S;
close(#{round := Round, current := Current, holds := Holds} = S, Preempted) ->
    Tagged = [{T, In, Out, Preempted} || {T, In, Out} <- Round],
    S#{round := [], holds := maps:update_with(Current, fun(L) -> Tagged ++ L end, Tagged, Holds)}.

%% Involuntary context switches of this VM's normal scheduler threads, or unknown (the
%% schedule tests' own count).
preemptions() ->
    phn_watch:preemptions().

%% Two results: the holds in rounds of ours (the issue-6 target: under 1 ms), and the
%% longest elsewhere (baselines, harness), with where the process was. A hold of ours
%% counts against the target when its round was not preempted, or when both re-runs of a
%% preempted round reported one too.
hold_results(Holds) ->
    Main = [{K, Hs} || {{N, _} = K, Hs} <- maps:to_list(Holds), is_ours(N)],
    All = lists:append([Hs || {_, Hs} <- Main]),
    Rerun = fun({N, C}) -> [maps:get({N, C, {verify, I}}, Holds, []) || I <- [1, 2]] end,
    Real = [{K, H} || {K, Hs} <- Main, {_, _, _, false} = H <- Hs] ++
           [{K, H} || {K, _} <- Main, R <- Rerun(K), {_, _, _, false} = H <- R],
    %% Every re-run reported too, but in preempted rounds: the monitor cannot tell.
    Unsure = [K || {K, _} <- Main, lists:all(fun(R) -> R =/= [] end, Rerun(K))],
    Where = fun(Ks) -> lists:join(", ", [name(K) || K <- lists:usort(Ks)]) end,
    {Line, Met, Measured} =
        case {All, Real, Unsure} of
            {[], _, _} ->
                {"longest scheduler hold in a round of ours (NIF, tracker): under 1 ms "
                 "(no long_schedule report at 1 ms)", true, "< 1 ms (no report)"};
            {_, [], []} ->
                {T, In, Out, _} = lists:max(All),
                {io_lib:format("longest scheduler hold in a round of ours: under 1 ms: ~b "
                               "reports >= 1 ms (longest ~b ms, in ~w, out ~w), every one in "
                               "a round where the OS or the hypervisor preempted a scheduler "
                               "thread, and none again when that round was re-run (~s)",
                               [length(All), T, In, Out, Where([K || {K, _} <- Main])]),
                 true, io_lib:format("< 1 ms (~b raw reports up to ~b ms, all preemption)",
                                     [length(All), T])};
            {_, [], _} ->
                {T, In, Out, _} = lists:max(All),
                {io_lib:format("longest scheduler hold in a round of ours: inconclusive: ~b "
                               "reports (longest ~b ms, in ~w, out ~w), all in rounds where "
                               "the OS or the hypervisor preempted a scheduler thread, re-runs "
                               "too, in ~s",
                               [length(All), T, In, Out, Where(Unsure)]),
                 inconclusive,
                 io_lib:format("inconclusive (~b reports up to ~b ms, all in preempted rounds)",
                               [length(All), T])};
            _ ->
                {T, In, Out, _} = lists:max([H || {_, H} <- Real]),
                {io_lib:format("longest scheduler hold in a round of ours: ~b ms in a round "
                               "neither the OS nor the hypervisor preempted (in ~w, out ~w); "
                               "in ~s",
                               [T, In, Out, Where([K || {K, _} <- Real])]),
                 false, io_lib:format("~b ms", [T])}
        end,
    Others = [io_lib:format("~s ~b ms (~b reports)",
                            [name(N), element(1, lists:max(Hs)), length(Hs)])
              || {N, Hs} <- maps:to_list(Holds), not is_ours(N)],
    [phn_bench:result(Line, [phn_bench:target("longest scheduler hold of any NIF call "
                                              "(long_schedule)", Measured, "< 1 ms", Met)]),
     phn_bench:result(["longest holds elsewhere (baselines, harness GC, re-runs): ",
                       case Others of [] -> "none"; _ -> lists:join(", ", Others) end], [])].

%% Our implementations are named nif, map-nif, tracker.
is_ours({Name, _Case}) -> is_ours(Name);
is_ours(Name) when is_list(Name) -> lists:member(Name, ["nif", "map-nif", "tracker"]);
is_ours(_) -> false.

name(N) when is_atom(N) -> atom_to_list(N);
name({N, C}) -> [N, " in ", C];
name({N, C, {verify, I}}) -> io_lib:format("~s in ~s (re-run ~b)", [N, C, I]).
