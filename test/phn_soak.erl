%% make soak (scripts/soak.sh): mixed load for SOAK_SECONDS at the highest rate the machine
%% gives, through phn_tracker and through the C-node, in a real cluster (phn_cluster: a
%% private epmd, a coordinator peer and responder peers), checking that no completion is
%% lost or duplicated. Not part of make test.
%%
%% On the coordinator peer, driver processes keep a window of operations in flight:
%%   - tracker drivers: a coordinator process owning a phn_tracker tracks each operation;
%%     the responders cast {operation_response, Ref, Node, Results} to it, one cast per
%%     chunk, as ProcessHub nodes do; completions go back to the driver;
%%   - C-node drivers: each operation is registered with phn_cnode; the responders cast to
%%     {soak_hub, CNode}; the work is sent before the registration, so responses race it
%%     (some are held by the C-node as early responses).
%% An operation expects 1 to 3 responder nodes, each owing 1 to 3 chunks. The mix: about
%% 1 in 100 has a node that never answers (it must expire, naming that node), and about 1
%% in 100 is cancelled at once (its responses are sent anyway, and must be ignored). Each
%% completion is checked: the right nodes, each with its chunks' results in order.
%% Responders also ask the C-node is_partitioned now and then.
%%
%% Verdict: every operation started is completed, expired or cancelled exactly once
%% (lost = 0, duplicated = 0, wrong = 0), and afterwards the tracker and the C-node hold
%% nothing (the C-node's early responses are dropped after early_hold_ms). Prints the rates
%% every 10 s and a final line "SOAK PASS ..." or "SOAK FAIL ...".
-module(phn_soak).

-export([run/1]).
-export([coord_setup/1, coord_start_drivers/2, coord_stop_drivers/1, coord_report/0,
         worker_start/0]).

-define(COOKIE, "phn_soak_cookie").
-define(RESPONDERS, [r1, r2, r3]).
-define(TRACKER_DRIVERS, 2).
-define(CNODE_DRIVERS, 2).
-define(WINDOW, 2000).          % operations in flight per driver
-define(OP_TIMEOUT, 30000).     % ms; an operation with a silent node expires after 1500
-define(SILENT_TIMEOUT, 1500).
-define(EARLY_HOLD, 2000).

%%% The controller (a non-distributed VM)

run(Seconds) ->
    io:format("soak: ~p s, ~p tracker drivers and ~p C-node drivers, window ~p each~n",
              [Seconds, ?TRACKER_DRIVERS, ?CNODE_DRIVERS, ?WINDOW]),
    phn_cluster:start(),
    Verdict =
        try
            [phn_cluster:start_peer(N, ?COOKIE) || N <- [coord | ?RESPONDERS]],
            Responders = [phn_cluster:node_of(N) || N <- ?RESPONDERS],
            [true = on(coord, net_kernel, connect_node, [R]) || R <- Responders],
            [ok = on(N, ?MODULE, worker_start, []) || N <- ?RESPONDERS],
            CNode = on(coord, ?MODULE, coord_setup, [Responders]),
            [pong = on(N, net_adm, ping, [CNode]) || N <- ?RESPONDERS],
            Start = erlang:monotonic_time(millisecond),
            Drivers = on(coord, ?MODULE, coord_start_drivers, [Responders, CNode]),
            progress(Start, Start + Seconds * 1000, #{}),
            io:format("soak: stopping the drivers, waiting for operations in flight~n"),
            Totals = on(coord, ?MODULE, coord_stop_drivers, [Drivers], ?OP_TIMEOUT + 30000),
            Elapsed = (erlang:monotonic_time(millisecond) - Start) / 1000,
            verdict(Totals, Elapsed)
        catch C:E:St ->
            io:format("soak: crashed: ~p:~p~n~p~n", [C, E, St]),
            fail
        after
            catch on(coord, phn_cnode, stop, []),
            phn_cluster:stop()
        end,
    Verdict.

on(N, M, F, A) -> phn_cluster:on(N, M, F, A).
on(N, M, F, A, T) -> phn_cluster:on(N, M, F, A, T).

progress(Start, End, Prev) ->
    Now = erlang:monotonic_time(millisecond),
    case Now >= End of
        true -> ok;
        false ->
            timer:sleep(min(10000, End - Now)),
            R = on(coord, ?MODULE, coord_report, []),
            T = (erlang:monotonic_time(millisecond) - Start) / 1000,
            #{done := Done, responses := Resp, inflight := Inflight,
              tracker := TS, cnode := CS, mem := Mem} = R,
            Span = max(0.001, T - maps:get(t, Prev, 0)),
            Rate = fun(K, V) -> round((V - maps:get(K, Prev, 0)) / Span) end,
            io:format("soak: ~6.1f s  ~8w ops/s  ~8w responses/s  in flight ~p  "
                      "tracker ops ~p (~p KB)  cnode ops ~p early ~p  coord VM ~p MB~n",
                      [T, Rate(done, Done), Rate(responses, Resp), Inflight,
                       maps:get(ops, TS), maps:get(bytes, TS) div 1024,
                       maps:get(ops, CS), maps:get(early, CS), Mem div (1024 * 1024)]),
            progress(Start, End, #{done => Done, responses => Resp, t => T})
    end.

verdict(#{tracker := T, cnode := C, leftover := Left}, Elapsed) ->
    Sum = fun(K) -> maps:get(K, T) + maps:get(K, C) end,
    Done = Sum(completed) + Sum(expired) + Sum(cancelled),
    Lost = Sum(started) - Done,
    io:format("soak: tracker ~p~nsoak: cnode   ~p~nsoak: after  ~p~n", [T, C, Left]),
    Rate = round(Sum(completed) / Elapsed),
    Resp = round(Sum(responses) / Elapsed),
    Problems = [{lost, Lost} || Lost =/= 0] ++
               [{K, Sum(K)} || K <- [duplicated, wrong, unknown], Sum(K) =/= 0] ++
               [{leftover, Left} || not clean(Left)],
    case Problems of
        [] ->
            io:format("SOAK PASS: ~p operations in ~.1f s (~w completed/s, ~w responses/s),"
                      " ~p completed, ~p expired, ~p cancelled, 0 lost, 0 duplicated~n",
                      [Sum(started), Elapsed, Rate, Resp, Sum(completed), Sum(expired),
                       Sum(cancelled)]),
            pass;
        _ ->
            io:format("SOAK FAIL: ~p~n", [Problems]),
            fail
    end.

clean(#{tracker_ops := 0, cnode_ops := 0, cnode_early := 0, cnode_result_bytes := 0}) -> true;
clean(_) -> false.

%%% The coordinator peer

coord_setup(Responders) ->
    {ok, Pid} = phn_cnode:start_link(#{args => #{early_hold_ms => ?EARLY_HOLD,
                                                 early_max => 200000,
                                                 early_bytes => 256 * 1024 * 1024}}),
    unlink(Pid),
    {ok, false} = phn_cnode:set_hub(soak_hub, phn_partition:static_quorum(1),
                                    [node() | Responders]),
    ets:new(phn_soak_counters, [named_table, public, set, {write_concurrency, true}]),
    phn_cnode:cnode().

coord_start_drivers(Responders, CNode) ->
    {Coord, _T} = phn_test_coordinator:start(phn_soak_coordinator, 100),
    Tr = [spawn(fun() -> driver(tracker, {phn_soak_coordinator, node()}, Responders, I) end)
          || I <- lists:seq(1, ?TRACKER_DRIVERS)],
    Cn = [spawn(fun() -> driver(cnode, {soak_hub, CNode}, Responders, I) end)
          || I <- lists:seq(1, ?CNODE_DRIVERS)],
    persistent_term:put(phn_soak_drivers, Tr ++ Cn),
    #{coordinator => Coord, drivers => Tr ++ Cn}.

%% A driver: keeps ?WINDOW operations in flight until told to stop, then waits for the
%% rest. Counters: started, completed, expired, cancelled, duplicated, wrong, unknown,
%% responses (casts the responders were asked for).
driver(Kind, Target, Responders, Id) ->
    rand:seed(exsss, {erlang:unique_integer(), Id, 7}),
    St = #{kind => Kind, target => Target, responders => list_to_tuple(Responders),
           inflight => #{}, finished => #{}, stopping => false, stopper => undefined,
           c => #{started => 0, completed => 0, expired => 0, cancelled => 0,
                  duplicated => 0, wrong => 0, unknown => 0, responses => 0}},
    driver_loop(fill(St)).

driver_loop(#{stopping := true, inflight := In, stopper := From, c := C} = St)
  when map_size(In) =:= 0 ->
    From ! {driver_done, self(), C},
    exit(normal),
    St;
driver_loop(St) ->
    receive
        {tracked, _Ref, ok} -> driver_loop(St);
        {tracked, Ref, Err} -> driver_loop(fill(finish(Ref, {track_failed, Err}, St)));
        {op_done, Ref, Result} -> driver_loop(fill(finish(Ref, Result, St)));
        {phn_cnode_op, Ref, Result} -> driver_loop(fill(finish(Ref, Result, St)));
        {report, From} ->
            From ! {report, self(), maps:get(c, St), map_size(maps:get(inflight, St))},
            driver_loop(St);
        {stop, From} -> driver_loop(St#{stopping := true, stopper := From});
        {give_up, From} ->
            From ! {driver_done, self(),
                    (maps:get(c, St))#{leftover => map_size(maps:get(inflight, St))}}
    after 100 -> driver_loop(fill(St))
    end.

count(K, #{c := C} = St) -> St#{c := C#{K := maps:get(K, C) + 1}}.
count(K, N, #{c := C} = St) -> St#{c := C#{K := maps:get(K, C) + N}}.

fill(#{stopping := true} = St) -> St;
fill(#{inflight := In} = St) when map_size(In) >= ?WINDOW -> St;
fill(St) -> fill(start_op(St)).

%% One operation: its nodes (1..3 distinct responders), chunks per node (1..3), whether a
%% node stays silent, whether it is cancelled at once.
start_op(#{kind := Kind, target := Target, responders := Rs} = St) ->
    Ref = make_ref(),
    NNodes = rand:uniform(3),
    Nodes = lists:sublist(shuffle(tuple_to_list(Rs)), NNodes),
    Plan = [{N, rand:uniform(3)} || N <- Nodes],
    Mix = case rand:uniform(100) of
              1 -> silent;
              2 -> cancel;
              _ -> normal
          end,
    Silent = case Mix of silent -> element(1, hd(Plan)); _ -> none end,
    Timeout = case Mix of silent -> ?SILENT_TIMEOUT; _ -> ?OP_TIMEOUT end,
    Expected = [{N, K} || {N, K} <- Plan],
    Work = fun() ->
                   [{phn_soak_worker, N} ! {work, Target, Ref, K} || {N, K} <- Plan, N =/= Silent],
                   lists:sum([K || {N, K} <- Plan, N =/= Silent])
           end,
    St1 = case Kind of
              tracker ->
                  {Coord, _} = Target,
                  Coord ! {track, self(), Ref, Expected, Timeout},
                  case Mix of cancel -> Coord ! {cancel, Ref}; _ -> ok end,
                  count(responses, Work(), St);
              cnode when Mix =:= cancel ->
                  %% Cancelled before any response: they come after, to be held as early
                  %% ones and dropped.
                  ok = phn_cnode:register_operation(Ref, soak_hub, Expected, Timeout),
                  ok = phn_cnode:cancel_operation(Ref),
                  count(responses, Work(), St);
              cnode ->
                  %% The work first: responses race the registration.
                  Sent = Work(),
                  ok = phn_cnode:register_operation(Ref, soak_hub, Expected, Timeout),
                  count(responses, Sent, St)
          end,
    St2 = count(started, St1),
    case Mix of
        cancel -> count(cancelled, St2);
        _ -> St2#{inflight := maps:put(Ref, {Plan, Silent}, maps:get(inflight, St2))}
    end.

finish(Ref, Result, #{inflight := In, kind := Kind} = St) ->
    case maps:take(Ref, In) of
        {{Plan, Silent}, In1} ->
            St1 = St#{inflight := In1},
            case check(Kind, Ref, Plan, Silent, Result) of
                completed -> count(completed, St1);
                expired -> count(expired, St1);
                wrong ->
                    io:format(user, "soak: wrong result for ~p: ~P~n", [Plan, Result, 20]),
                    count(wrong, St1)
            end;
        error ->
            %% Finished already, cancelled (never in flight), or never ours.
            count(duplicated, St)
    end.

chunks_of(Ref, Node, K) -> [{Ref, Node, I} || I <- lists:seq(1, K)].

check(_, Ref, Plan, none, {complete, Collected}) ->
    case Collected =:= [{N, chunks_of(Ref, N, K)} || {N, K} <- Plan] of
        true -> completed;
        false -> wrong
    end;
check(tracker, _Ref, _Plan, Silent, {expired, [Silent]}) when Silent =/= none -> expired;
check(cnode, Ref, Plan, Silent, {expired, Collected, [Silent]}) when Silent =/= none ->
    case Collected =:= [{N, chunks_of(Ref, N, K)} || {N, K} <- Plan, N =/= Silent] of
        true -> expired;
        false -> wrong
    end;
check(_, _, _, _, _) -> wrong.

shuffle(L) -> [X || {_, X} <- lists:sort([{rand:uniform(), X} || X <- L])].

coord_report() ->
    {Done, Resp, Inflight} =
        lists:foldl(fun(D, {A, B, C}) ->
                            D ! {report, self()},
                            receive {report, D, Cs, In} ->
                                        {A + maps:get(completed, Cs) + maps:get(expired, Cs),
                                         B + maps:get(responses, Cs), C + In}
                            after 5000 -> {A, B, C}
                            end
                    end, {0, 0, 0}, drivers()),
    phn_soak_coordinator ! {info, self()},
    TS = receive {info, _, S} -> S after 5000 -> #{ops => -1, bytes => 0} end,
    {ok, CS} = phn_cnode:stats(),
    #{done => Done, responses => Resp, inflight => Inflight, tracker => TS, cnode => CS,
      mem => erlang:memory(total)}.

drivers() -> persistent_term:get(phn_soak_drivers, []).

coord_stop_drivers(#{drivers := Drivers}) ->
    [D ! {stop, self()} || D <- Drivers],
    Results = [receive {driver_done, D, C} -> {D, C}
               after ?OP_TIMEOUT + 15000 ->
                       D ! {give_up, self()},
                       receive {driver_done, D, C} -> {D, C} after 5000 -> {D, #{}} end
               end || D <- Drivers],
    {Tr, Cn} = lists:split(?TRACKER_DRIVERS, [C || {_, C} <- Results]),
    Sum = fun(Cs) -> lists:foldl(fun(C, Acc) -> maps:merge_with(fun(_, A, B) -> A + B end, C, Acc) end,
                                 #{}, Cs) end,
    %% Afterwards: the tracker empty, the C-node empty once held early responses expired.
    phn_soak_coordinator ! {info, self()},
    TS = receive {info, _, S} -> S after 5000 -> #{ops => -1} end,
    wait_cnode_empty(?EARLY_HOLD * 3 div 100 + 100),
    {ok, CS} = phn_cnode:stats(),
    #{tracker => Sum(Tr), cnode => Sum(Cn),
      leftover => #{tracker_ops => maps:get(ops, TS), cnode_ops => maps:get(ops, CS),
                    cnode_early => maps:get(early, CS),
                    cnode_result_bytes => maps:get(result_bytes, CS)}}.

wait_cnode_empty(0) -> ok;
wait_cnode_empty(N) ->
    case phn_cnode:stats() of
        {ok, #{ops := 0, early := 0}} -> ok;
        _ -> timer:sleep(100), wait_cnode_empty(N - 1)
    end.

%%% The responder peers

worker_start() ->
    Pid = spawn(fun worker_loop/0),
    register(phn_soak_worker, Pid),
    ok.

%% Each chunk is one cast, in order; now and then a partition check on the C-node.
worker_loop() ->
    receive
        {work, Target, Ref, K} ->
            [gen_server:cast(Target, {operation_response, Ref, node(), [{Ref, node(), I}]})
             || I <- lists:seq(1, K)],
            case rand:uniform(500) of
                1 ->
                    {Hub, CNode} = case Target of
                                       {soak_hub, _} = HC -> HC;
                                       _ -> {soak_hub, undefined}
                                   end,
                    CNode =/= undefined andalso
                        spawn(fun() -> false = gen_server:call({Hub, CNode}, is_partitioned, 10000) end);
                _ -> ok
            end
    end,
    worker_loop().
