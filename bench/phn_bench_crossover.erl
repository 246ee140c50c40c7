%% Where the NIF starts to pay: each map-mode hot path run by the NIF (phn_nif) and by
%% its plain-Erlang twin (phn_rm_small, with no limit; for cleanup_expired the candidate
%% below) on growing inputs, rounds
%% alternating, medians. The limits in phn_rm_small are read off these lines: the largest
%% size at which the Erlang path is still at least as fast as the NIF, with margin.
%%
%% After `make bench-build':
%%   erl -noshell -pa _build/test/lib/process_hub_native/ebin \
%%       -pa _build/test/lib/process_hub_native/test -pa bench/ebin \
%%       -eval 'phn_bench_crossover:print(), halt().'
-module(phn_bench_crossover).

-export([print/0, lines/1]).

-define(NO_LIMIT, 1 bsl 40).

print() ->
    [io:format("~s~n", [L]) || L <- lines(#{rounds => 7, budget_ms => 10})],
    ok.

%% One line per function: "size: nif ns / erl ns (erl/nif... ratio)".
lines(#{rounds := Rounds, budget_ms := Calls}) ->
    Cases = [{"process_response (N nodes, 1 child each, half answered)",
              [1, 2, 4, 8, 16, 24, 32, 48, 64, 128], fun process_response/1},
             {"process_response, every node answering in turn, per operation (N nodes)",
              [1, 3, 10, 32, 100, 1000], fun process_all/1},
             {"all_responded? (N nodes, all answered)",
              [1, 4, 8, 16, 32, 64, 128, 256, 1000, 10000], fun(N) -> all_responded(N, N) end},
             {"cleanup_expired (N pending, 1 in 8 expired)",
              [1, 2, 4, 8, 16, 24, 32, 48, 64, 128], fun cleanup/1},
             {"all_responded? (N nodes, half answered)",
              [1, 2, 4, 8, 16, 24, 32, 48, 64, 128], fun(N) -> all_responded(N, N div 2) end},
             {"populate_forward (N keys, 1 target)",
              [1, 8, 32, 128, 256, 512, 1024], fun(N) -> forward(N, 1) end},
             {"populate_forward (N keys, 4 targets)",
              [1, 8, 32, 128, 256, 512, 1024], fun(N) -> forward(N, 4) end},
             {"populate_forward (8 keys, N targets)",
              [1, 2, 4, 8, 16, 32], fun(N) -> forward(8, N) end},
             {"populate_forward (32 keys, N targets)",
              [1, 2, 4, 8, 16, 32], fun(N) -> forward(32, N) end},
             {"split (N children, kept whole at <= 1000): nif / length/1 (the drop-in's guard)",
              [0, 1, 10, 100, 1000], fun split/1}],
    [[Name, ": ", lists:join("; ", [size_figure(N, Make(N), Rounds, Calls) || N <- Sizes])]
     || {Name, Sizes, Make} <- Cases].

size_figure(N, Impls, Rounds, Calls) ->
    Times = rounds(Impls, Rounds, Calls),
    [Nif | Others] = Times,
    io_lib:format("~b: ~s (~s)", [N, lists:join(" / ", [integer_to_list(round(T)) || T <- Times]),
                                  lists:join(", ", [io_lib:format("~.2fx", [Nif / T]) || T <- Others])]).

%% Median ns per call of each implementation over alternating rounds.
rounds(Impls, Rounds, Calls) ->
    Samples = [[ns(F, Calls) || F <- Impls] || _ <- lists:seq(1, Rounds)],
    [median([lists:nth(I, S) || S <- Samples]) || I <- lists:seq(1, length(Impls))].

%% Calls for at least BudgetMs (and at least one call).
ns(F, BudgetMs) ->
    erlang:garbage_collect(),
    T0 = erlang:monotonic_time(nanosecond),
    N = loop(F, T0 + BudgetMs * 1000000, 0),
    (erlang:monotonic_time(nanosecond) - T0) / N.

loop(F, Deadline, N) ->
    _ = F(),
    case erlang:monotonic_time(nanosecond) >= Deadline of
        true -> N + 1;
        false -> loop(F, Deadline, N + 1)
    end.

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

process_response(N) ->
    Nodes = phn_gen:node_names(N),
    Op = phn_gen:operation(Nodes, 1, lists:sublist(Nodes, N div 2)),
    Node = lists:last(Nodes),
    [fun() -> phn_nif:process_response(Op, Node, [{c, ok}]) end,
     fun() -> phn_rm_small:process_response(Op, Node, [{c, ok}], ?NO_LIMIT) end].

process_all(N) ->
    Nodes = phn_gen:node_names(N),
    Op = phn_gen:operation(Nodes, 1, []),
    Answer = fun(Run) -> lists:foldl(fun(Node, O) -> {_, O1} = Run(O, Node), O1 end, Op, Nodes) end,
    [fun() -> Answer(fun(O, Node) -> phn_nif:process_response(O, Node, [{c, ok}]) end) end,
     fun() -> Answer(fun(O, Node) ->
                         {ok, R} = phn_rm_small:process_response(O, Node, [{c, ok}], ?NO_LIMIT),
                         R
                     end) end].

all_responded(N, Answered) ->
    Nodes = phn_gen:node_names(N),
    Op = phn_gen:operation(Nodes, 1, lists:sublist(Nodes, Answered)),
    [fun() -> phn_nif:all_responded(Op) end,
     fun() -> phn_rm_small:'all_responded?'(Op, ?NO_LIMIT) end].

cleanup(N) ->
    Pending = phn_gen:pending(N, fun(I) -> case I rem 8 of 0 -> 0; _ -> 2000 end end),
    [fun() -> phn_nif:cleanup_expired(Pending, 1000) end,
     fun() -> erl_cleanup(Pending, 1000) end].

%% The candidate Erlang path for cleanup_expired (not shipped: the NIF wins at every size).
erl_cleanup(Pending, Now) ->
    maps:filter(fun(_Ref, #{expires_at := ExpiresAt}) -> not (Now > ExpiresAt) end, Pending).

forward(Keys, Targets) ->
    Names = phn_gen:node_names(max(Keys, Targets)),
    Forward = [{K, [c]} || K <- lists:sublist(Names, Keys)],
    %% Targets spread over the keys, the last one last (the longest walk).
    Ts = lists:sublist(lists:reverse(Names), Targets),
    [fun() -> phn_nif:populate_forward(Forward, Ts, child) end,
     fun() -> phn_rm_small:populate_forward(Forward, Ts, child, ?NO_LIMIT, ?NO_LIMIT) end].

split(N) ->
    Req = phn_gen:start_request(phn_gen:children(N)),
    Children = maps:get(children, Req),
    [fun() -> phn_nif:split_list(Req, children, 1000) end,
     fun() -> length(Children) =< 1000 andalso [Req] end].
