%% Benchmarks: each hot path of phn_request_manager (NIF) against the plain-Erlang
%% phn_request_manager_erl (ProcessHub's algorithms), and where ProcessHub calls Elixir's
%% standard library, that call too, all in the same run: rounds alternate between the
%% implementations, and each figure is the median of its rounds with the spread.
%%
%%   make bench-quick   a short run, one line per figure, the ratio last
%%   make bench         the full sizes; writes BENCHMARKS.md
-module(phn_bench).

-export([quick/0, full/0, run/2]).

-define(NIF, phn_request_manager).
-define(ERL, phn_request_manager_erl).

quick() ->
    {Lines, _} = run(quick, #{rounds => 5, budget_ms => 30}),
    lists:foreach(fun(L) -> io:format("~s~n", [L]) end, Lines),
    halt(0).

%% PHN_BENCH_SIZE: full (default), quick, or smoke (the quick set, one short round: what
%% make test runs to prove the command works); PHN_BENCH_OUT: the file to write.
full() ->
    Size = list_to_atom(os:getenv("PHN_BENCH_SIZE", "full")),
    Opts = case Size of
        full -> #{rounds => 9, budget_ms => 100};
        quick -> #{rounds => 5, budget_ms => 30};
        smoke -> #{rounds => 1, budget_ms => 1}
    end,
    {Lines, Header} = run(case Size of smoke -> quick; _ -> Size end, Opts),
    Sized = io_lib:format("~s; size: ~s, ~b rounds", [Header, Size, maps:get(rounds, Opts)]),
    phn_bench_report:write(os:getenv("PHN_BENCH_OUT", "BENCHMARKS.md"), Sized, Lines),
    halt(0).

%% Runs every case in a worker watched by long_schedule (1 ms), so the longest
%% scheduler hold of the run is reported too.
run(Size, Opts) ->
    Header = header(),
    io:format("~s~n", [Header]),
    {Lines, Holds} = phn_bench_watch:run(fun() ->
        [line(measure(Case, Opts)) || Case <- phn_bench_cases:cases(Size)]
    end),
    {Lines ++ phn_bench_watch:hold_lines(Holds), Header}.

header() ->
    io_lib:format("machine: ~s, ~b cores; OTP ~s (erts ~s); Elixir ~s",
                  [cpu_model(), erlang:system_info(logical_processors_available),
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

elixir_version() ->
    case application:load(elixir) of
        ok -> element(3, lists:keyfind(elixir, 1, application:loaded_applications()));
        {error, {already_loaded, elixir}} -> element(3, lists:keyfind(elixir, 1, application:loaded_applications()));
        _ -> "not found"
    end.

%% A case: #{label, setup, impls => [{Name, Fun(Input)}], per_call, ratios => [{Baseline,
%% Subject}]}: each ratio is the baseline's median over the subject's (above 1: the
%% subject is faster).
measure(#{label := Label, setup := Setup, impls := Impls, per_call := PerCall} = Case, Opts) ->
    #{rounds := Rounds, budget_ms := Budget} = Opts,
    put(phn_case, lists:flatten(Label)),
    Input = Setup(),
    [_ = F(Input) || {_, F} <- Impls],
    Samples = lists:foldl(
        fun(_, Acc) ->
            [[round_time(Name, F, Input, Budget) / PerCall | S]
             || {{Name, F}, S} <- lists:zip(Impls, Acc)]
        end,
        [[] || _ <- Impls],
        lists:seq(1, Rounds)
    ),
    {Label, [{Name, stats(S)} || {{Name, _}, S} <- lists:zip(Impls, Samples)], maps:get(ratios, Case)}.

%% Microseconds per call over one round of at least one call. The watcher is told which
%% implementation runs, so that a long schedule is charged to it and not to the harness.
round_time(Name, F, Input, BudgetMs) ->
    erlang:garbage_collect(),
    phn_bench_watch:mark({Name, get(phn_case)}),
    Start = erlang:monotonic_time(microsecond),
    Calls = repeat(F, Input, Start + BudgetMs * 1000, 0),
    Time = (erlang:monotonic_time(microsecond) - Start) / Calls,
    phn_bench_watch:mark(harness),
    Time.

repeat(F, Input, Deadline, N) ->
    _ = F(Input),
    case erlang:monotonic_time(microsecond) >= Deadline of
        true -> N + 1;
        false -> repeat(F, Input, Deadline, N + 1)
    end.

%% Median and spread (half the min..max range, in % of the median).
stats(Samples) ->
    Sorted = lists:sort(Samples),
    Med = lists:nth((length(Sorted) + 1) div 2, Sorted),
    {Med, 50 * (lists:last(Sorted) - hd(Sorted)) / Med}.

line({Label, Figures, Ratios}) ->
    Times = [io_lib:format("~s ~s us (+-~.1f%)", [N, fmt(M), Sp]) || {N, {M, Sp}} <- Figures],
    Median = fun(N) -> element(1, proplists:get_value(N, Figures)) end,
    Rs = [io_lib:format("~s/~s ~.1fx", [B, S, Median(B) / Median(S)]) || {B, S} <- Ratios],
    lists:flatten(io_lib:format("~s: ~s; ratio ~s", [Label, lists:join(", ", Times), lists:join(", ", Rs)])).

fmt(Us) when Us >= 100 -> integer_to_list(round(Us));
fmt(Us) when Us >= 1 -> io_lib:format("~.2f", [Us]);
fmt(Us) -> io_lib:format("~.3f", [Us]).
