%% Benchmarks: first the coordinator's whole path through phn_request_manager in map and
%% tracker mode (phn_bench_userpath: store, every response, finalize; issue 11's targets),
%% then each hot path of phn_request_manager (NIF) and of phn_tracker against the
%% plain-Erlang phn_request_manager_erl (ProcessHub's algorithms), and where ProcessHub
%% calls Elixir's standard library, that call too, all in the same run: rounds alternate
%% between the implementations, and each figure is the median of its rounds with the
%% spread. Then memory per pending operation (phn_bench_tracker) and the C-node against a
%% BEAM process on a real cluster of peers with a private epmd (phn_bench_cluster).
%%
%%   make bench-quick   a short run, one line per figure, the ratio last
%%   make bench         the full sizes; writes BENCHMARKS.md
-module(phn_bench).

-export([quick/0, full/0, run/2, result/2, target/4, target/5, fmt_us/1]).

quick() ->
    T0 = erlang:monotonic_time(millisecond),
    _ = run(quick, #{rounds => 7, budget_ms => 40}),
    io:format("bench-quick: ~.1f s (the quick sizes; `make bench` runs all of issues 6 and 11's)~n",
              [(erlang:monotonic_time(millisecond) - T0) / 1000]),
    halt(0).

%% PHN_BENCH_SIZE: full (default), quick, or smoke (the quick set, one short round: what
%% make test runs to prove the command works); PHN_BENCH_OUT: the file to write.
full() ->
    T0 = erlang:monotonic_time(millisecond),
    Size = list_to_atom(os:getenv("PHN_BENCH_SIZE", "full")),
    Opts = case Size of
               full -> #{rounds => 11, budget_ms => 120};
               quick -> #{rounds => 7, budget_ms => 40};
               smoke -> #{rounds => 1, budget_ms => 1}
           end,
    {Results, Header} = run(Size, Opts),
    Secs = (erlang:monotonic_time(millisecond) - T0) / 1000,
    Sized = io_lib:format("~s; size: ~s, ~b rounds", [Header, Size, maps:get(rounds, Opts)]),
    phn_bench_report:write(os:getenv("PHN_BENCH_OUT", "BENCHMARKS.md"), Sized, Results, Secs),
    halt(0).

%% Runs every case in a worker watched by long_schedule (1 ms), so the longest
%% scheduler hold of the run is reported too. Each figure is printed as it is measured.
run(Size, Opts) ->
    Header = header(),
    io:format("~s~n", [Header]),
    Show = fun(Rs) -> [io:format("~s~n", [L]) || #{line := L} <- Rs], Rs end,
    Set = case Size of smoke -> quick; _ -> Size end,
    {Results, Holds} = phn_bench_watch:run(fun() ->
        UserPath = [Show([figure(measure(Case, Opts))]) || Case <- phn_bench_userpath:cases(Size)],
        UserMemory = Show(phn_bench_userpath:memory(Size)),
        Timed = UserPath ++ [UserMemory] ++
            [Show([figure(measure(Case, Opts))]) || Case <- phn_bench_cases:cases(Set)],
        Memory = Show(phn_bench_tracker:results(Size)),
        Cluster = Show(phn_bench_cluster:results(Size)),
        lists:append(Timed) ++ Memory ++ Cluster
    end),
    {Results ++ Show(phn_bench_watch:hold_results(Holds)), Header}.

header() ->
    io_lib:format("machine: ~s, ~b cores (~s); OTP ~s (erts ~s); Elixir ~s",
                  [cpu_model(), erlang:system_info(logical_processors_available), os_name(),
                   erlang:system_info(otp_release), erlang:system_info(version), elixir_version()]).

cpu_model() ->
    case file:read_file("/proc/cpuinfo") of
        {ok, Info} ->
            case re:run(Info, "model name\\s*: (.*)", [{capture, all_but_first, list}]) of
                {match, [Model]} -> Model;
                nomatch -> "unknown cpu"
            end;
        _ -> "unknown cpu"
    end.

os_name() ->
    {_, Name} = os:type(),
    Release = case file:read_file("/proc/sys/kernel/osrelease") of
                  {ok, R} -> string:trim(binary_to_list(R));
                  _ -> ""
              end,
    lists:flatten([atom_to_list(Name), " ", Release]).

elixir_version() ->
    _ = application:load(elixir),
    case lists:keyfind(elixir, 1, application:loaded_applications()) of
        {elixir, _, Vsn} -> Vsn;
        false -> "not found"
    end.

%% A result: one line of output and the targets it decides.
%% Target: #{what, measured, goal, met, group}: group `main' (issue 11's table, judged
%% on the user path) or `detail' (issue 6's raw-tracker targets).
result(Line, Targets) ->
    #{line => lists:flatten(Line), targets => Targets}.

target(What, Measured, Goal, Met) ->
    target(What, Measured, Goal, Met, main).

target(What, Measured, Goal, Met, Group) ->
    #{what => lists:flatten(What), measured => lists:flatten(Measured),
      goal => lists:flatten(Goal), met => Met, group => Group}.

%% A case: #{label, setup, impls => [{Name, Fun(Input)} | {Name, Fun(Arg), Prep(Input)}],
%% per_call, ratios => [{Baseline, Subject}], targets => [{Baseline, Subject, Min, What}]}:
%% each ratio is the baseline's median over the subject's (above 1: the subject is
%% faster). An impl with Prep gets Prep(Input) before each call, untimed (a mutable
%% tracker refilled between calls).
measure(#{label := Label, setup := Setup, impls := Impls, per_call := PerCall} = Case, Opts) ->
    #{rounds := Rounds, budget_ms := Budget} = Opts,
    put(phn_case, lists:flatten(Label)),
    Input = Setup(),
    [_ = call_once(I, Input) || I <- Impls],
    %% Each round starts with the next implementation (rotating), so that whatever one
    %% leaves behind (a big heap to collect, native memory being freed) does not always
    %% fall on the same successor.
    Indexed = lists:zip(lists:seq(1, length(Impls)), Impls),
    Samples = lists:foldl(
        fun(Round, Acc) ->
            {Before, After} = lists:split(Round rem length(Impls), Indexed),
            Times = maps:from_list([{K, round_time(I, Input, Budget) / PerCall}
                                    || {K, I} <- After ++ Before]),
            [[maps:get(K, Times) | S] || {{K, _}, S} <- lists:zip(Indexed, Acc)]
        end,
        [[] || _ <- Impls],
        lists:seq(1, Rounds)
    ),
    verify_holds(Impls, Input, Budget),
    case maps:get(teardown, Case, undefined) of
        undefined -> ok;
        Teardown -> Teardown(Input)
    end,
    reaped(),
    {Label, [{element(1, I), stats(S)} || {I, S} <- lists:zip(Impls, Samples)],
     maps:get(ratios, Case), maps:get(targets, Case, []), maps:get(target_group, Case, main)}.

%% A closed tracker of more than 2000 operations is freed by the reaper thread, which
%% would compete with the next case's rounds for the two cores: wait for it.
reaped() ->
    case maps:get(reaping_ops, phn_tracker:stats()) of
        0 -> ok;
        _ -> timer:sleep(20), reaped()
    end.

call_once({_, F}, Input) -> F(Input);
call_once({_, F, Prep}, Input) -> F(Prep(Input)).

%% A round of ours that drew a long_schedule report is run again, up to twice, under its
%% own name: phn_bench_watch counts a hold only when every re-run draws one too.
verify_holds(Impls, Input, Budget) ->
    Case = get(phn_case),
    [verify(Impl, Case, Input, Budget, 1)
     || Impl <- Impls, phn_bench_watch:holds({element(1, Impl), Case}) =/= [],
        lists:member(element(1, Impl), ["nif", "map-nif", "map", "tracker"])],
    ok.

verify(_Impl, _Case, _Input, _Budget, 3) -> ok;
verify(Impl, Case, Input, Budget, N) ->
    Mark = {element(1, Impl), Case, {verify, N}},
    _ = round_time(Impl, Input, Budget, Mark),
    case phn_bench_watch:holds(Mark) of
        [] -> ok;
        _ -> verify(Impl, Case, Input, Budget, N + 1)
    end.

%% Microseconds per call over one round of at least one call. The watcher is told which
%% implementation runs, so that a long schedule is charged to it and not to the harness.
round_time(Impl, Input, BudgetMs) ->
    round_time(Impl, Input, BudgetMs, {element(1, Impl), get(phn_case)}).

round_time(Impl, Input, BudgetMs, Mark) ->
    erlang:garbage_collect(),
    %% One untimed call first: the implementation that ran before may have left the
    %% caches and the heap in its own shape (a big operation's images, a grown heap),
    %% which would otherwise be charged to this one's first calls.
    _ = call_once(Impl, Input),
    Preempt0 = phn_bench_watch:preemptions(),
    phn_bench_watch:mark(Mark),
    Time = case Impl of
               {_, F} ->
                   Start = erlang:monotonic_time(nanosecond),
                   Calls = repeat(F, Input, Start + BudgetMs * 1000000, 0),
                   (erlang:monotonic_time(nanosecond) - Start) / Calls / 1000;
               {_, F, Prep} ->
                   Deadline = erlang:monotonic_time(nanosecond) + BudgetMs * 1000000,
                   {Ns, Calls} = repeat_prepared(F, Prep, Input, Deadline, 0, 0),
                   Ns / Calls / 1000
           end,
    phn_bench_watch:round_end(preempted(Preempt0, phn_bench_watch:preemptions())),
    phn_bench_watch:mark(harness),
    Time.

preempted(unknown, _) -> unknown;
preempted(_, unknown) -> unknown;
preempted(Before, After) -> After > Before.

repeat(F, Input, Deadline, N) ->
    _ = F(Input),
    case erlang:monotonic_time(nanosecond) >= Deadline of
        true -> N + 1;
        false -> repeat(F, Input, Deadline, N + 1)
    end.

repeat_prepared(F, Prep, Input, Deadline, Ns, N) ->
    Arg = Prep(Input),
    T0 = erlang:monotonic_time(nanosecond),
    _ = F(Arg),
    T1 = erlang:monotonic_time(nanosecond),
    case T1 >= Deadline of
        true -> {Ns + T1 - T0, N + 1};
        false -> repeat_prepared(F, Prep, Input, Deadline, Ns + T1 - T0, N + 1)
    end.

%% Median and spread (half the min..max range, in % of the median).
stats(Samples) ->
    Sorted = lists:sort(Samples),
    Med = lists:nth((length(Sorted) + 1) div 2, Sorted),
    {Med, 50 * (lists:last(Sorted) - hd(Sorted)) / Med}.

figure({Label, Figures, Ratios, Targets, Group}) ->
    Times = [io_lib:format("~s ~s us (+-~.1f%)", [N, fmt_us(M), Sp]) || {N, {M, Sp}} <- Figures],
    Median = fun(N) -> element(1, proplists:get_value(N, Figures)) end,
    Ratio = fun(B, S) -> Median(B) / Median(S) end,
    Rs = [io_lib:format("~s/~s ~s", [B, S, fmt_x(Ratio(B, S))]) || {B, S} <- Ratios],
    Ts = [target([Label, ": ", B, "/", S], fmt_x(Ratio(B, S)),
                 io_lib:format(">= ~sx (~s)", [fmt_num(Min), What]), Ratio(B, S) >= Min, Group)
          || {B, S, Min, What} <- Targets],
    TargetText = [io_lib:format(" [target ~s/~s >= ~sx: ~s]",
                                [B, S, fmt_num(Min), met(Ratio(B, S) >= Min)])
                  || {B, S, Min, _} <- Targets],
    result(io_lib:format("~s~s: ~s; ratio ~s",
                         [Label, TargetText, lists:join(", ", Times), lists:join(", ", Rs)]),
           Ts).

met(true) -> "met";
met(false) -> "MISSED".

fmt_x(R) when R >= 100 -> io_lib:format("~bx", [round(R)]);
fmt_x(R) when R >= 10 -> io_lib:format("~.1fx", [R]);
fmt_x(R) -> io_lib:format("~.2fx", [R]).

fmt_num(N) when is_integer(N) -> integer_to_list(N);
fmt_num(N) when N == round(N) -> integer_to_list(round(N));
fmt_num(N) -> io_lib:format("~.1f", [N]).

fmt_us(Us) when Us >= 100 -> integer_to_list(round(Us));
fmt_us(Us) when Us >= 1 -> io_lib:format("~.2f", [Us]);
fmt_us(Us) -> io_lib:format("~.3f", [Us]).
