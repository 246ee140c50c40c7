%% The C-node on a real cluster, against BEAM processes doing the same work, in one run.
%%
%% OTP 25 cannot move a running VM to another epmd, so the bench VM stays
%% non-distributed: it starts a private epmd on a free port and four peers booted with
%% -epmd_port P, driven over peer's standard_io channel (test/phn_cluster.erl):
%% `coord' runs phn_cnode (and so the C-node) and the BEAM collectors; s1, s2 and s3 send
%% the responses, exactly as remote ProcessHub nodes cast them
%% ({'$gen_cast', {operation_response, TxRef, Node, Results}} to {HubId, Node}).
%%
%% Figures (rounds alternate between the implementations):
%% * responses ingested per second from the three senders: the C-node (operations
%%   registered with phn_cnode:register_operation/5, one completion message each) against
%%   a BEAM process on the coordinator's node collecting the same way (chunk-aware, each
%%   node's results concatenated, one completion message to the registering process),
%%   and that process using phn_tracker (the NIF) for its table;
%% * messages reaching the coordinator per operation, with every node answering in
%%   3 chunks: the C-node sends one, a BEAM collector receives one per node and chunk;
%% * the round trip of a partition check, gen_server:call({Hub, Node}, is_partitioned)
%%   from a sender peer, answered by the C-node or by a BEAM gen_server on the
%%   coordinator's node: p50 and p99 of every call.
-module(phn_bench_cluster).
-behaviour(gen_server).

-export([results/1]).
%% Run on the peers.
-export([coord_setup/0, coord_ingest/5, sender/4, rtt/2]).
-export([init/1, handle_call/3, handle_cast/2]).

-define(HUB, phn_bench_hub).
-define(BEAM_HUB, phn_bench_beam_hub).
-define(COOKIE, "phn_bench_cookie").
-define(SENDERS, [s1, s2, s3]).
-define(COUNT_CHUNKS, 3).
%% Four VMs and the C-node share the machine's cores: idle schedulers must not spin
%% (busy waiting would steal the CPU from the other processes, the C-node included).
-define(VM_ARGS, ["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"]).

results(Size) ->
    Sizes = case Size of
                smoke -> #{ops => 300, rounds => 1, calls => 50, count_ops => 30};
                quick -> #{ops => 5000, rounds => 5, calls => 500, count_ops => 500};
                full -> #{ops => 20000, rounds => 7, calls => 2000, count_ops => 2000}
            end,
    case os:find_executable("epmd") of
        false ->
            failed("skipped: no epmd executable");
        _ ->
            try run(Sizes)
            catch Class:Reason:Stack ->
                failed(io_lib:format("failed: ~w:~w at ~w", [Class, Reason, hd(Stack)]))
            end
    end.

failed(Why) ->
    [phn_bench:result(["C-node figures ", Why],
                      [phn_bench:target("C-node: responses ingested per second, cnode/beam",
                                        "not measured", ">= 1.0x", false),
                       phn_bench:target("C-node: messages reaching the coordinator per operation",
                                        "not measured", "one", false)])].

%%% Cluster set-up

%% The private cluster of the multi-node suites (test/phn_cluster.erl); the peers also
%% load this module.
run(Sizes) ->
    _ = phn_cluster:start([?MODULE]),
    try
        [phn_cluster:start_peer(Name, ?COOKIE, ?VM_ARGS) || Name <- [coord | ?SENDERS]],
        measure(Sizes)
    after
        phn_cluster:stop()
    end.

on(Name, F, A) -> phn_cluster:on(Name, ?MODULE, F, A, 600000).
on(Name, M, F, A) -> phn_cluster:on(Name, M, F, A, 600000).
node_of(Name) -> phn_cluster:node_of(Name).

%%% Measurements (run in the bench VM)

measure(#{ops := K, rounds := Rounds, calls := Calls, count_ops := KC}) ->
    Senders = [node_of(S) || S <- ?SENDERS],
    [true = on(coord, net_kernel, connect_node, [S]) || S <- Senders],
    CNode = on(coord, coord_setup, []),
    %% Every sender dials the C-node before anything is timed.
    [pong = on(S, net_adm, ping, [CNode]) || S <- ?SENDERS],
    Impls = [cnode, beam, tracker],
    Ingest = lists:foldl(
               fun(_, Acc) ->
                   [{I, [on(coord, coord_ingest, [I, K, Senders, CNode, #{chunks => 1}]) | L]}
                    || {I, L} <- Acc]
               end, [{I, []} || I <- Impls], lists:seq(1, Rounds)),
    Count = [{I, on(coord, coord_ingest,
                    [I, KC, Senders, CNode, #{chunks => ?COUNT_CHUNKS, count => true}])}
             || I <- Impls],
    Coord = node_of(coord),
    Targets = [{cnode, {?HUB, CNode}}, {beam, {?HUB, Coord}}],
    [_ = on(s1, rtt, [T, 100]) || {_, T} <- Targets],
    Rtt = lists:foldl(
            fun(_, Acc) ->
                [{I, on(s1, rtt, [T, Calls]) ++ L} || {{I, T}, {I, L}} <- lists:zip(Targets, Acc)]
            end, [{I, []} || {I, _} <- Targets], lists:seq(1, Rounds)),
    ingest_result(K, Rounds, Ingest) ++
        [count_result(KC, Count), rtt_result(Calls, Rounds, Rtt), holds_result(Ingest)].

ingest_result(K, Rounds, Ingest) ->
    Rate = fun(#{us := Us}) -> 3 * K / Us * 1000000 end,
    Stats = [{I, stats([Rate(R) || R <- Rs])} || {I, Rs} <- Ingest],
    Med = fun(I) -> element(1, proplists:get_value(I, Stats)) end,
    R = Med(cnode) / Med(beam),
    Met = R >= 1.0,
    Line = io_lib:format("C-node: responses ingested per second, 3 sender nodes x ~b operations, "
                         "~b rounds [target cnode/beam >= 1x: ~s]: ~s; ratio cnode/beam ~s, "
                         "cnode/tracker ~s",
                         [K, Rounds, met(Met),
                          lists:join(", ", [io_lib:format("~s ~s/s (+-~.1f%)", [name(I), kilo(M), Sp])
                                            || {I, {M, Sp}} <- Stats]),
                          x(R), x(Med(cnode) / Med(tracker))]),
    Sum = fun(Rs, Key) -> lists:sum([maps:get(Key, X) || X <- Rs]) end,
    Cpu = [begin
               Vm = Sum(Rs, vm_cpu_ms) * 1000 / (3 * K * length(Rs)),
               Cn = Sum(Rs, cnode_cpu_ms) * 1000 / (3 * K * length(Rs)),
               Share = 100 * Sum(Rs, sent_us) / Sum(Rs, us),
               case I of
                   cnode -> io_lib:format("cnode ~.2f us (C-node ~.2f + coordinator VM ~.2f), "
                                          "senders busy ~b% of the time",
                                          [Vm + Cn, Cn, Vm, round(Share)]);
                   _ -> io_lib:format("~s ~.2f us, senders busy ~b%", [name(I), Vm, round(Share)])
               end
           end || {I, Rs} <- Ingest],
    CpuLine = ["C-node: CPU per response on the coordinator's side (the C-node's process and the "
               "coordinator's VM, /proc, summed over the ingest rounds): ", lists:join("; ", Cpu)],
    [phn_bench:result(Line, [phn_bench:target("C-node: responses ingested per second from 3 sender "
                                              "nodes, cnode/beam", x(R), ">= 1.0x", Met)]),
     phn_bench:result(CpuLine, [])].

count_result(KC, Count) ->
    Per = fun(I, Key) -> maps:get(Key, proplists:get_value(I, Count)) / KC end,
    Expect = 3 * ?COUNT_CHUNKS,
    Cnode = Per(cnode, coord_msgs),
    Met = Cnode == 1.0 andalso Per(beam, coord_msgs) == Expect,
    Line = io_lib:format("C-node: messages reaching the coordinator per operation, 3 nodes x ~b "
                         "chunks, ~b operations [target cnode 1, beam ~b: ~s]: cnode ~.2f (and "
                         "~.2f port packets to the phn_cnode owner process), beam ~.2f, tracker ~.2f; "
                         "ratio beam/cnode ~s",
                         [?COUNT_CHUNKS, KC, Expect, met(Met), Cnode, Per(cnode, server_msgs),
                          Per(beam, coord_msgs), Per(tracker, coord_msgs),
                          x(Per(beam, coord_msgs) / Cnode)]),
    phn_bench:result(Line, [phn_bench:target("C-node: messages reaching the coordinator per "
                                             "operation (3 nodes x 3 chunks)",
                                             io_lib:format("~.2f (beam ~.2f)",
                                                           [Cnode, Per(beam, coord_msgs)]),
                                             "one, against one per node and chunk", Met)]).

rtt_result(Calls, Rounds, Rtt) ->
    P = fun(I, Q) -> percentile(proplists:get_value(I, Rtt), Q) / 1000 end,
    Line = io_lib:format("C-node: partition check round trip from a peer, gen_server:call({Hub, "
                         "Node}, is_partitioned), ~b calls each: cnode p50 ~s us, p99 ~s us; beam "
                         "gen_server p50 ~s us, p99 ~s us; ratio beam/cnode p50 ~s, p99 ~s",
                         [Calls * Rounds, phn_bench:fmt_us(P(cnode, 50)), phn_bench:fmt_us(P(cnode, 99)),
                          phn_bench:fmt_us(P(beam, 50)), phn_bench:fmt_us(P(beam, 99)),
                          x(P(beam, 50) / P(cnode, 50)), x(P(beam, 99) / P(cnode, 99))]),
    phn_bench:result(Line, [phn_bench:target("C-node: partition check round trip (p50 / p99)",
                                             io_lib:format("~s / ~s us (beam gen_server ~s / ~s us)",
                                                           [phn_bench:fmt_us(P(cnode, 50)),
                                                            phn_bench:fmt_us(P(cnode, 99)),
                                                            phn_bench:fmt_us(P(beam, 50)),
                                                            phn_bench:fmt_us(P(beam, 99))]),
                                             "reported (no ratio set)", true)]).

holds_result(Ingest) ->
    Parts = [case [H || #{hold := H} <- Rs, H =/= none] of
                 [] -> io_lib:format("~s none", [name(I)]);
                 Hs -> {T, In, Out} = lists:max(Hs),
                       io_lib:format("~s ~b ms (~b reports; in ~w, out ~w)",
                                     [name(I), T, length(Hs), In, Out])
             end || {I, Rs} <- Ingest],
    phn_bench:result(["C-node: longest scheduler hold >= 1 ms on the coordinator's node during "
                      "the ingest rounds: ", lists:join(", ", Parts)], []).

name(cnode) -> "cnode";
name(beam) -> "beam";
name(tracker) -> "beam+tracker".

met(true) -> "met";
met(false) -> "MISSED".

x(R) -> io_lib:format("~.2fx", [R]).

kilo(N) when N >= 1000000 -> io_lib:format("~.2fM", [N / 1000000]);
kilo(N) -> io_lib:format("~.1fk", [N / 1000]).

stats(Samples) ->
    Sorted = lists:sort(Samples),
    Med = lists:nth((length(Sorted) + 1) div 2, Sorted),
    {Med, 50 * (lists:last(Sorted) - hd(Sorted)) / Med}.

percentile(Samples, Q) ->
    Sorted = lists:sort(Samples),
    lists:nth(max(1, min(length(Sorted), round(Q / 100 * length(Sorted)))), Sorted).

%%% On the coordinator peer

%% phn_cnode (and its C-node) with a hub following the cluster, and a BEAM gen_server
%% answering the same partition query; returns the C-node's name.
coord_setup() ->
    {ok, Pid} = phn_cnode:start_link(#{args => #{max_ops => 10000000}}),
    unlink(Pid),
    {ok, false} = phn_cnode:set_hub(?HUB, phn_partition:divergence(), cluster),
    {ok, Srv} = gen_server:start({local, ?HUB}, ?MODULE, [], []),
    true = is_pid(Srv),
    phn_cnode:cnode().

%% One round: K operations, each expecting Chunks responses from every sender, all
%% registered first; then the senders are released together and the time runs until the
%% last completion message has reached this process. With count, the messages received
%% by the coordinator (this process for the C-node, the collector otherwise) and by the
%% phn_cnode owner process are counted too.
coord_ingest(Impl, K, Senders, CNode, Opts) ->
    Chunks = maps:get(chunks, Opts),
    Count = maps:get(count, Opts, false),
    Refs = [make_ref() || _ <- lists:seq(1, K)],
    Expected = [{S, Chunks} || S <- Senders],
    Self = self(),
    {Target, Collector} =
        case Impl of
            cnode ->
                [ok = phn_cnode:register_operation(R, ?HUB, Expected, 600000) || R <- Refs],
                {{?HUB, CNode}, undefined};
            _ ->
                C = spawn(fun() -> collector(Impl) end),
                true = register(?BEAM_HUB, C),
                [C ! {register, R, Expected, Self} || R <- Refs],
                C ! {sync, Self},
                receive {synced, C} -> ok end,
                {{?BEAM_HUB, node()}, C}
        end,
    Server = whereis(phn_cnode),
    Tracer = case Count andalso Impl =:= cnode of
                 true ->
                     Tr = spawn(fun() -> count_trace(0) end),
                     1 = erlang:trace(Server, true, ['receive', {tracer, Tr}]),
                     Tr;
                 false -> undefined
             end,
    Watch = watch_start(),
    Ss = [spawn(S, ?MODULE, sender, [Self, Target, Refs, Chunks]) || S <- Senders],
    [receive {ready, S} -> ok end || S <- Ss],
    CnodeOs = case Impl of cnode -> phn_cnode:os_pid(); _ -> undefined end,
    Cpu0 = {cpu_ms(os:getpid()), cpu_ms(CnodeOs)},
    T0 = erlang:monotonic_time(microsecond),
    [S ! go || S <- Ss],
    Received = await(K, 0),
    T1 = erlang:monotonic_time(microsecond),
    Cpu1 = {cpu_ms(os:getpid()), cpu_ms(CnodeOs)},
    Sent = lists:max([receive {sent, S, Us} -> Us end || S <- Ss]),
    Hold = watch_stop(Watch),
    ServerMsgs = case Tracer of
                     undefined -> 0;
                     _ ->
                         erlang:trace(Server, false, ['receive']),
                         Tracer ! {get, Self},
                         receive {traced, N} -> N end
                 end,
    CoordMsgs = case Collector of
                    undefined -> Received;
                    _ ->
                        Collector ! {count, Self},
                        N2 = receive {counted, X} -> X end,
                        Collector ! stop,
                        unregister_quietly(?BEAM_HUB),
                        N2
                end,
    #{us => T1 - T0, sent_us => Sent, hold => Hold, coord_msgs => CoordMsgs,
      server_msgs => ServerMsgs,
      vm_cpu_ms => element(1, Cpu1) - element(1, Cpu0),
      cnode_cpu_ms => element(2, Cpu1) - element(2, Cpu0)}.

%% User + system CPU of an OS process, in ms (/proc, clock ticks of 10 ms); 0 if unknown.
cpu_ms(undefined) -> 0;
cpu_ms(OsPid) ->
    case file:read_file(["/proc/", to_list(OsPid), "/stat"]) of
        {ok, Stat} ->
            %% Fields after the command name (which may hold spaces): state is the 3rd.
            [_, After] = string:split(Stat, ")", trailing),
            Fields = string:lexemes(After, " "),
            (binary_to_integer(lists:nth(12, Fields)) + binary_to_integer(lists:nth(13, Fields))) * 10;
        _ -> 0
    end.

to_list(P) when is_integer(P) -> integer_to_list(P);
to_list(P) -> P.

unregister_quietly(Name) ->
    catch unregister(Name),
    ok.

await(0, N) -> N;
await(K, N) ->
    receive
        {phn_cnode_op, _, {complete, _}} -> await(K - 1, N + 1);
        {phn_cnode_op, Ref, Other} -> error({operation_failed, Ref, Other})
    after 120000 -> error({ingest_timeout, K})
    end.

count_trace(N) ->
    receive
        {trace, _, 'receive', _} -> count_trace(N + 1);
        {get, From} ->
            %% Trace messages sent before trace/3 returned may still be on their way.
            timer:sleep(200),
            From ! {traced, drain(N)}
    end.

drain(N) ->
    receive {trace, _, 'receive', _} -> drain(N + 1) after 0 -> N end.

%% A BEAM collector, as the coordinator would run one: chunk-aware (each node owes Chunks
%% responses; results concatenated in arrival order; nodes in declaration order), one
%% completion message per operation; responses from unexpected nodes and extra chunks are
%% ignored. `beam' keeps its table in a map, `tracker' in a phn_tracker.
collector(beam) -> beam_loop(#{}, 0);
collector(tracker) -> tracker_loop(phn_tracker:new(), 0).

beam_loop(Ops, N) ->
    receive
        {'$gen_cast', {operation_response, Ref, Node, Results}} ->
            beam_loop(beam_record(Ops, Ref, Node, Results), N + 1);
        {register, Ref, Expected, Owner} ->
            Op = #{owner => Owner, order => [Nd || {Nd, _} <- Expected],
                   owed => maps:from_list(Expected), missing => length(Expected), got => #{}},
            beam_loop(Ops#{Ref => Op}, N);
        Other ->
            control(Other, N) andalso beam_loop(Ops, N)
    end.

beam_record(Ops, Ref, Node, Results) ->
    case Ops of
        #{Ref := #{owed := #{Node := Left} = Owed, got := Got, missing := M} = Op} when Left > 0 ->
            Got1 = Got#{Node => [Results | maps:get(Node, Got, [])]},
            case Left =:= 1 andalso M =:= 1 of
                true ->
                    Collected = [{Nd, lists:append(lists:reverse(maps:get(Nd, Got1)))}
                                 || Nd <- maps:get(order, Op), is_map_key(Nd, Got1)],
                    maps:get(owner, Op) ! {phn_cnode_op, Ref, {complete, Collected}},
                    maps:remove(Ref, Ops);
                false ->
                    M1 = case Left of 1 -> M - 1; _ -> M end,
                    Ops#{Ref := Op#{owed := Owed#{Node := Left - 1}, got := Got1, missing := M1}}
            end;
        _ ->
            Ops
    end.

tracker_loop(T, N) ->
    receive
        {'$gen_cast', {operation_response, Ref, Node, Results}} ->
            case phn_tracker:record(T, Ref, Node, Results, #{return_meta => true}) of
                {complete, Collected, Owner} -> Owner ! {phn_cnode_op, Ref, {complete, Collected}};
                _ -> ok
            end,
            tracker_loop(T, N + 1);
        {register, Ref, Expected, Owner} ->
            ok = phn_tracker:track(T, Ref, Expected, #{timeout_ms => 600000, meta => Owner}),
            tracker_loop(T, N);
        Other ->
            control(Other, N) andalso tracker_loop(T, N)
    end.

control({sync, From}, _N) -> From ! {synced, self()}, true;
control({count, From}, N) -> From ! {counted, N}, true;
control(stop, _N) -> false.

%% long_schedule (1 ms) on this node while a round runs: the longest report, or none.
watch_start() ->
    Self = self(),
    W = spawn(fun() ->
                  erlang:system_monitor(self(), [{long_schedule, 1}]),
                  Self ! {watching, self()},
                  watch_loop(none)
              end),
    receive {watching, W} -> W end.

watch_loop(Max) ->
    receive
        {monitor, _, long_schedule, Info} ->
            H = {proplists:get_value(timeout, Info), proplists:get_value(in, Info),
                 proplists:get_value(out, Info)},
            watch_loop(case Max of none -> H; _ -> max(H, Max) end);
        {stop, From} ->
            erlang:system_monitor(undefined),
            From ! {watched, self(), Max}
    end.

watch_stop(W) ->
    W ! {stop, self()},
    receive {watched, W, Max} -> Max end.

%%% On a sender peer

%% Every operation's responses (Chunks per operation), as a remote ProcessHub node casts
%% them, once released.
sender(Owner, Target, Refs, Chunks) ->
    Me = node(),
    Results = [{{child, 1}, {ok, self()}}],
    Msgs = [{'$gen_cast', {operation_response, R, Me, Results}} || R <- Refs],
    Owner ! {ready, self()},
    receive go -> ok end,
    T0 = erlang:monotonic_time(microsecond),
    [erlang:send(Target, M) || _ <- lists:seq(1, Chunks), M <- Msgs],
    Owner ! {sent, self(), erlang:monotonic_time(microsecond) - T0},
    ok.

%% Nanoseconds of each of N partition checks.
rtt(Target, N) ->
    [begin
         T0 = erlang:monotonic_time(nanosecond),
         false = gen_server:call(Target, is_partitioned, 10000),
         erlang:monotonic_time(nanosecond) - T0
     end || _ <- lists:seq(1, N)].

%%% The BEAM gen_server answering partition checks (its verdict kept in its state, as the
%%% C-node keeps its own).

init([]) -> {ok, #{partitioned => false}}.

handle_call(is_partitioned, _From, S) -> {reply, maps:get(partitioned, S), S};
handle_call(_, _From, S) -> {reply, {error, badarg}, S}.

handle_cast(_, S) -> {noreply, S}.
