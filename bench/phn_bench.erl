%% Benchmarks: each hot path of phn_request_manager (NIF) against the plain-Erlang
%% phn_request_manager_erl (ProcessHub's algorithms) in the same run, alternating
%% rounds, reporting median and spread of each and the ratio of medians.
%%
%%   make bench-quick      one line per figure, the ratio last
-module(phn_bench).

-export([quick/0, run/1, cases/1]).

-define(NIF, phn_request_manager).
-define(ERL, phn_request_manager_erl).

quick() ->
    run(#{rounds => 7, budget_ms => 40}),
    halt(0).

run(Opts) ->
    io:format("# ~s, OTP ~s, ~p schedulers~n", [machine(), erlang:system_info(otp_release),
                                               erlang:system_info(schedulers)]),
    lists:foreach(fun(Case) -> report(measure(Case, Opts)) end, cases(Opts)).

machine() ->
    case file:read_file("/proc/cpuinfo") of
        {ok, Info} ->
            case re:run(Info, "model name\\s*: (.*)", [{capture, all_but_first, list}]) of
                {match, [Model]} -> Model;
                nomatch -> "unknown cpu"
            end;
        _ -> "unknown cpu"
    end.

%% {Label, Unit, Setup, Fun(Mod, Input) -> _, PerCall}: time is divided by PerCall.
cases(_Opts) ->
    [lifecycle_case(N) || N <- [10, 100, 1000]] ++
    [cleanup_case(100000)] ++
    [split_case(N) || N <- [1000, 100000]] ++
    [forward_case(1000)].

lifecycle_case(Nodes) ->
    {io_lib:format("response lifecycle, ~b nodes (per response)", [Nodes]),
     fun() -> phn_gen:operation(phn_gen:node_names(Nodes), 1, []) end,
     fun(Mod, Op) -> lifecycle(Mod, Op, [N || {N, _} <- maps:get(nodes_data, Op)]) end,
     Nodes}.

lifecycle(_Mod, Op, []) -> Op;
lifecycle(Mod, Op, [Node | Rest]) ->
    {_, Op1} = Mod:process_response(Op, Node, [{child, ok}]),
    _ = Mod:'all_responded?'(Op1),
    lifecycle(Mod, Op1, Rest).

cleanup_case(N) ->
    Now = 1000000,
    {io_lib:format("cleanup_expired, ~b pending, 1% expired (map mode)", [N]),
     fun() ->
         #{pending_operations => phn_gen:pending(N, fun(I) ->
             case I rem 100 of 0 -> Now - 1; _ -> Now + 1 end end)}
     end,
     fun(Mod, State) -> Mod:cleanup_expired(State, Now) end,
     1}.

split_case(N) ->
    {io_lib:format("split, ~b children", [N]),
     fun() -> phn_gen:start_request(phn_gen:children(N)) end,
     fun(Mod, Req) -> Mod:split(Req) end,
     1}.

forward_case(N) ->
    {io_lib:format("populate_forward, ~b targets into ~b keys", [N, N]),
     fun() ->
         Keys = [list_to_atom("k" ++ integer_to_list(I)) || I <- lists:seq(1, N)],
         {[{K, []} || K <- Keys], lists:reverse(Keys)}
     end,
     fun(Mod, {Fwd, Targets}) -> Mod:populate_forward(Fwd, Targets, child) end,
     1}.

%% Alternate NIF and ERL rounds; each round repeats the call until budget_ms is spent.
measure({Label, Setup, Fun, PerCall}, #{rounds := Rounds, budget_ms := Budget}) ->
    Input = Setup(),
    _ = Fun(?NIF, Input),
    _ = Fun(?ERL, Input),
    Samples = lists:foldl(
        fun(_, {Ns, Es}) ->
            {[round_time(Fun, ?NIF, Input, Budget) / PerCall | Ns],
             [round_time(Fun, ?ERL, Input, Budget) / PerCall | Es]}
        end,
        {[], []},
        lists:seq(1, Rounds)
    ),
    {Label, Samples}.

%% Microseconds per call over one round.
round_time(Fun, Mod, Input, BudgetMs) ->
    erlang:garbage_collect(),
    Deadline = erlang:monotonic_time(microsecond) + BudgetMs * 1000,
    Start = erlang:monotonic_time(microsecond),
    Calls = repeat(Fun, Mod, Input, Deadline, 0),
    (erlang:monotonic_time(microsecond) - Start) / Calls.

repeat(Fun, Mod, Input, Deadline, N) ->
    _ = Fun(Mod, Input),
    case erlang:monotonic_time(microsecond) >= Deadline of
        true -> N + 1;
        false -> repeat(Fun, Mod, Input, Deadline, N + 1)
    end.

report({Label, {Nif, Erl}}) ->
    {NifMed, NifSpread} = stats(Nif),
    {ErlMed, ErlSpread} = stats(Erl),
    io:format("~s: nif ~s us (+-~.1f%), erl ~s us (+-~.1f%), ratio ~.1fx~n",
              [Label, fmt(NifMed), NifSpread, fmt(ErlMed), ErlSpread, ErlMed / NifMed]).

%% Median and spread (half the min..max range, in % of the median).
stats(Samples) ->
    Sorted = lists:sort(Samples),
    Med = lists:nth((length(Sorted) + 1) div 2, Sorted),
    {Med, 50 * (lists:last(Sorted) - hd(Sorted)) / Med}.

fmt(Us) when Us >= 100 -> integer_to_list(round(Us));
fmt(Us) when Us >= 1 -> io_lib:format("~.2f", [Us]);
fmt(Us) -> io_lib:format("~.3f", [Us]).
