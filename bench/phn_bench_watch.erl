%% Runs the benchmark in a worker watched by erlang:system_monitor long_schedule at
%% 1 ms (the smallest it takes), to report the longest scheduler hold of the run, charged
%% to the implementation that was running (the worker marks each round) or to the
%% harness (set-up and the garbage collections between rounds). The monitor never
%% reports about itself, so the work runs in another process.
-module(phn_bench_watch).

-export([run/1, mark/1, hold_lines/1]).

run(Work) ->
    Self = self(),
    {Pid, Ref} = spawn_monitor(fun() ->
        put(phn_bench_watcher, Self),
        Self ! {result, self(), Work()}
    end),
    Previous = erlang:system_monitor(self(), [{long_schedule, 1}]),
    {Result, Holds} = loop(Pid, Ref, harness, #{}),
    case Previous of
        undefined -> erlang:system_monitor(undefined);
        {P, O} -> erlang:system_monitor(P, O)
    end,
    {Result, Holds}.

%% Called by the worker: from now on, charge long schedules to Name.
mark(Name) ->
    get(phn_bench_watcher) ! {mark, self(), Name},
    ok.

%% Holds: #{Charged => [TimeoutMs]}.
loop(Pid, Ref, Current, Holds) ->
    receive
        {mark, Pid, Name} ->
            loop(Pid, Ref, Name, Holds);
        {monitor, Pid, long_schedule, Info} ->
            T = proplists:get_value(timeout, Info),
            loop(Pid, Ref, Current, maps:update_with(Current, fun(L) -> [T | L] end, [T], Holds));
        {monitor, _, long_schedule, _} ->
            loop(Pid, Ref, Current, Holds);
        {result, Pid, Result} ->
            receive {'DOWN', Ref, process, Pid, _} -> ok end,
            {Result, Holds};
        {'DOWN', Ref, process, Pid, Why} ->
            error({bench_failed, Why})
    end.

hold_lines(Holds) ->
    Ours = [N || N <- maps:keys(Holds), is_ours(N)],
    NifLine = case lists:append([maps:get(N, Holds) || N <- Ours]) of
        [] -> "longest scheduler hold in a NIF round: under 1 ms (no long_schedule report at 1 ms)";
        Ts -> io_lib:format("longest scheduler hold in a NIF round: ~b ms (~b reports >= 1 ms, in ~p)",
                            [lists:max(Ts), length(Ts), Ours])
    end,
    Others = [io_lib:format("~s ~b ms (~b reports)", [name(N), lists:max(Ts), length(Ts)])
              || {N, Ts} <- maps:to_list(Holds), not is_ours(N)],
    [lists:flatten(NifLine),
     lists:flatten(["longest holds elsewhere (baselines, harness GC): ",
                    case Others of [] -> "none"; _ -> lists:join(", ", Others) end])].

%% Our implementations are named nif, map-nif, tracker, cnode...
is_ours({Name, _Case}) -> lists:member(Name, ["nif", "map-nif", "tracker", "cnode"]);
is_ours(_) -> false.

name(N) when is_atom(N) -> atom_to_list(N);
name({N, C}) -> [N, " in ", C].
