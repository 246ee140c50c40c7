%% Common Test: faults in a real cluster (peer nodes on a private epmd, the real C-node).
%% Each case injects one fault while operations are in flight and checks that every waiting
%% caller gets an answer (a result, an expiry or an error) or its own timeout, that native
%% memory returns to its baseline (phn_tracker:stats/0,1, the C-node's stats), and that
%% nothing hangs:
%%   - a responder peer killed (kill -9) mid-operation, for the tracker and the C-node;
%%   - a network partition (erlang:disconnect_node/1 with dist_auto_connect once on the
%%     partitioned peer, so that nothing reconnects behind the test's back), healed after;
%%   - the coordinator (the tracker's owner) killed with 10 000 operations pending;
%%   - the C-node killed (kill -9) while responses stream in for 200 waiting operations;
%%   - the C-node killed (kill -9), several rounds, while 80 processes call phn_cnode and
%%     100 operations are registered: phn_cnode lives on and answers everyone;
%%   - the NIF module upgraded (code:load_file over the loaded phn_nif, then purged) and
%%     reloaded from scratch (delete, purge, load) while a tracker holds operations.
%% Network namespaces with veth pairs are not used: a disconnect with no automatic
%% reconnection is what a coordinator sees of a partition, and it is cheap and reliable.
%%
%% The CT VM stays non-distributed (OTP 25 cannot switch epmd at run time) and drives the
%% peers through phn_cluster. `coord' runs phn_cnode and the coordinators; p1 and p2
%% respond; the victims of a case are peers of their own.
-module(phn_faults_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(COOKIE, "phn_faults_cookie").
-define(EARLY_HOLD, 1000).

suite() -> [{timetrap, {minutes, 3}}].

all() ->
    [tracker_peer_killed_mid_operation,
     tracker_network_partition,
     tracker_owner_killed,
     cnode_peer_killed_mid_operation,
     cnode_network_partition,
     cnode_killed_mid_operation,
     cnode_killed_under_calls,
     nif_upgrade_keeps_operations,
     nif_reload_fails_cleanly].

init_per_suite(Config) ->
    case os:find_executable("epmd") of
        false -> {skip, "no epmd"};
        _ ->
            Port = phn_cluster:start(),
            [phn_cluster:start_peer(N, ?COOKIE) || N <- [coord, p1, p2]],
            [true = on(coord, net_kernel, connect_node, [node_of(N)]) || N <- [p1, p2]],
            ok = on(coord, ?MODULE, coord_setup, []),
            [{epmd_port, Port} | Config]
    end.

end_per_suite(_Config) ->
    catch on(coord, phn_cnode, stop, []),
    phn_cluster:stop().

on(Name, M, F, A) -> phn_cluster:on(Name, M, F, A).
node_of(Name) -> phn_cluster:node_of(Name).
cnode() -> on(coord, phn_cnode, cnode, []).

cnode_stats() ->
    {ok, S} = on(coord, phn_cnode, stats, []),
    S.

%%% On the coordinator peer

coord_setup() ->
    {ok, Pid} = phn_cnode:start_link(#{args => #{early_hold_ms => ?EARLY_HOLD},
                                       max_restarts => 20}),
    unlink(Pid),
    ok.

%% A tracker-mode coordinator (test/phn_test_coordinator.erl), sweeping every 50 ms.
coordinator_start(Name) -> phn_test_coordinator:start(Name, 50).
coordinator_stop(Pid) -> phn_test_coordinator:stop(Pid).

%% N waiters, each tracking one operation (refs {Tag, I}) and waiting for its answer at
%% most WaitMs. Returns once they are all tracked: {Refs, Collector}; the collector then
%% gathers their answers (collect_answers/1).
waiters_start(Coord, Tag, N, Expected, TimeoutMs, WaitMs) ->
    Self = self(),
    Collector = spawn(fun() -> collect_loop([]) end),
    Refs = [{Tag, I} || I <- lists:seq(1, N)],
    [spawn(fun() ->
                   Coord ! {track, self(), Ref, Expected, TimeoutMs},
                   receive {tracked, Ref, ok} -> Self ! {ready, Ref} end,
                   Answer = receive {op_done, Ref, A} -> A after WaitMs -> no_answer end,
                   Collector ! {answer, Ref, Answer}
           end) || Ref <- Refs],
    [receive {ready, Ref} -> ok after 5000 -> error({not_tracked, Ref}) end || Ref <- Refs],
    {Refs, Collector}.

collect_loop(Acc) ->
    receive
        {answer, Ref, A} -> collect_loop([{Ref, A} | Acc]);
        {get, From} -> From ! {answers, lists:sort(Acc)}, collect_loop(Acc)
    end.

collect_answers(Collector, N, Ms) ->
    Deadline = erlang:monotonic_time(millisecond) + Ms,
    collect_answers(Collector, N, Deadline, []).

collect_answers(Collector, N, Deadline, _) ->
    Collector ! {get, self()},
    As = receive {answers, L} -> L end,
    case length(As) >= N orelse erlang:monotonic_time(millisecond) > Deadline of
        true -> As;
        false -> timer:sleep(20), collect_answers(Collector, N, Deadline, As)
    end.

%% A tracker fault scenario runs in two calls on the coordinator peer around the fault the
%% test injects: begin starts a coordinator and N waiters (their operations tracked);
%% finish collects every answer, reads the tracker (which must be empty by then), stops the
%% coordinator and reads the global stats once back to the baseline.
coord_tracker_begin(Tag, N, Expected, TimeoutMs) ->
    Base = phn_tracker:stats(),
    %% The tracker itself stays on this node: a resource term that went to another node
    %% and back no longer refers to the resource. The coordinator answers for it.
    {Coord, _T} = coordinator_start(Tag),
    {Refs, Collector} = waiters_start(Coord, Tag, N, Expected, TimeoutMs, TimeoutMs + 5000),
    #{coord => Coord, refs => Refs, collector => Collector, base => Base, n => N,
      timeout => TimeoutMs}.

coord_tracker_finish(#{coord := Coord, collector := Collector, base := Base, n := N,
                       timeout := TimeoutMs}) ->
    {Micros, Answers} = timer:tc(fun() -> collect_answers(Collector, N, TimeoutMs + 8000) end),
    Coord ! {info, self()},
    {Size, Stats} = receive {info, Sz, St} -> {Sz, St} after 5000 -> error(no_info) end,
    coordinator_stop(Coord),
    exit(Collector, kill),
    #{answers => Answers, wait_ms => Micros div 1000, size => Size, stats => Stats,
      base => Base, after_stop => settle(Base)}.

%% Global tracker stats once they are back to Base (or the last reading after 5 s).
settle(Base) -> settle(Base, 100).

settle(_Base, 0) -> phn_tracker:stats();
settle(Base, K) ->
    erlang:garbage_collect(),
    S = phn_tracker:stats(),
    Keys = [ops, bytes, kept_terms, trackers, reaping_ops],
    case maps:with(Keys, S) =:= maps:with(Keys, Base) of
        true -> S;
        false -> timer:sleep(50), settle(Base, K - 1)
    end.

%%% On a responder peer

%% Respond to each ref (cast to {Coord, CoordNode}), Pause ms apart.
respond(Coord, CoordNode, Refs, Pause) ->
    [begin
         gen_server:cast({Coord, CoordNode}, {operation_response, Ref, node(), [{child, ok}]}),
         Pause > 0 andalso timer:sleep(Pause)
     end || Ref <- Refs],
    ok.

respond_async(Coord, CoordNode, Refs, Pause) ->
    spawn(fun() -> respond(Coord, CoordNode, Refs, Pause) end),
    ok.

%%% Checks

assert_back_to_base(#{after_stop := After, base := Base}) ->
    Keys = [ops, bytes, kept_terms, trackers, reaping_ops],
    ?assertEqual(maps:with(Keys, Base), maps:with(Keys, After)).

%%% Cases: the tracker

%% 40 operations on p1 and a victim peer; the victim answers 20 of them and is killed with
%% kill -9. The 20 answered complete, the other 20 expire naming the victim as missing, at
%% their deadline (2 s) and not later; the tracker is then empty and, once the coordinator
%% stops, the tracker memory is back to the baseline.
tracker_peer_killed_mid_operation(_Config) ->
    Victim = phn_cluster:start_peer(victim1, ?COOKIE),
    CoordNode = node_of(coord),
    P1 = node_of(p1),
    true = on(coord, net_kernel, connect_node, [Victim]),
    Ctx = on(coord, ?MODULE, coord_tracker_begin, [fk_coord, 40, [P1, Victim], 2000]),
    #{refs := Refs} = Ctx,
    {First, _Rest} = lists:split(20, Refs),
    ok = on_p(p1, respond, [fk_coord, CoordNode, Refs, 0]),
    ok = on_p(victim1, respond, [fk_coord, CoordNode, First, 0]),
    timer:sleep(200), % those 20 arrive before the kill
    phn_cluster:kill_peer(victim1),
    R = on(coord, ?MODULE, coord_tracker_finish, [Ctx]),
    #{answers := Answers, size := 0, stats := #{ops := 0, kept_terms := 0}, wait_ms := Wait} = R,
    ct:log("answers after ~p ms: ~p", [Wait, Answers]),
    ?assertEqual(20, length([A || {_, {complete, [_, _]}} = A <- Answers])),
    ?assertEqual(20, length([A || {_, {expired, [V]}} = A <- Answers, V =:= Victim])),
    ?assert(Wait < 5000),
    assert_back_to_base(R).

%% A partition between the coordinator and one responder (disconnect_node, and the
%% responder started with dist_auto_connect once so that its sends do not reconnect):
%% every operation expires with that node missing; after healing, operations complete.
tracker_network_partition(_Config) ->
    Part = phn_cluster:start_peer(part1, ?COOKIE, ["-kernel", "dist_auto_connect", "once"]),
    CoordNode = node_of(coord),
    P1 = node_of(p1),
    true = on(coord, net_kernel, connect_node, [Part]),
    Ctx = on(coord, ?MODULE, coord_tracker_begin, [pt_coord, 30, [P1, Part], 1500]),
    #{refs := Refs} = Ctx,
    true = on(coord, erlang, disconnect_node, [Part]),
    ok = on_p(p1, respond, [pt_coord, CoordNode, Refs, 0]),
    ok = on_p(part1, respond, [pt_coord, CoordNode, Refs, 0]),
    ?assertNot(lists:member(Part, on(coord, erlang, nodes, []))),
    R = on(coord, ?MODULE, coord_tracker_finish, [Ctx]),
    #{answers := Answers, size := 0} = R,
    ?assertEqual(30, length([A || {_, {expired, [N]}} = A <- Answers, N =:= Part])),
    assert_back_to_base(R),
    %% Healed: the coordinator reconnects, and the next operations complete.
    true = on(coord, net_kernel, connect_node, [Part]),
    Ctx2 = on(coord, ?MODULE, coord_tracker_begin, [pt_coord, 30, [P1, Part], 5000]),
    #{refs := Refs2} = Ctx2,
    ok = on_p(p1, respond, [pt_coord, CoordNode, Refs2, 0]),
    ok = on_p(part1, respond, [pt_coord, CoordNode, Refs2, 0]),
    #{answers := Answers2} = on(coord, ?MODULE, coord_tracker_finish, [Ctx2]),
    ?assertEqual(30, length([A || {_, {complete, _}} = A <- Answers2])),
    phn_cluster:stop_peer(part1).

%% The coordinator (the tracker's owner) is killed with 10 000 operations pending, each
%% with a meta term; 50 waiters monitor it. Each waiter gets an answer (the DOWN), the
%% tracker is closed by the owner's death (read from another process: empty, closed), and
%% the whole tracker memory returns to the baseline (freed by the reaper thread).
tracker_owner_killed(_Config) ->
    R = on(coord, ?MODULE, coord_owner_killed, [10000, 50]),
    #{downs := Downs, closed := Closed, peak := Peak, base := Base, after_kill := After} = R,
    ct:log("peak ~p~nafter ~p", [Peak, After]),
    ?assertEqual(50, Downs),
    ?assertMatch(#{ops := 0, closed := true}, Closed),
    ?assertEqual(10000, maps:get(ops, Peak) - maps:get(ops, Base)),
    Keys = [ops, bytes, kept_terms, trackers, reaping_ops],
    ?assertEqual(maps:with(Keys, Base), maps:with(Keys, After)).

coord_owner_killed(NOps, NWaiters) ->
    Base = phn_tracker:stats(),
    {Coord, T} = coordinator_start(ok_coord),
    Self = self(),
    [Coord ! {track, Self, {ok_op, I}, [a@h, b@h], 60000} || I <- lists:seq(1, NOps)],
    [receive {tracked, {ok_op, I}, ok} -> ok after 10000 -> error(not_tracked) end
     || I <- lists:seq(1, NOps)],
    Peak = phn_tracker:stats(),
    Waiters = [spawn(fun() ->
                             Mon = erlang:monitor(process, Coord),
                             Self ! {watching, self()},
                             receive
                                 {'DOWN', Mon, process, _, Why} -> Self ! {answered, self(), Why}
                             after 20000 -> Self ! {answered, self(), no_answer}
                             end
                     end) || _ <- lists:seq(1, NWaiters)],
    [receive {watching, W} -> ok end || W <- Waiters],
    exit(Coord, kill),
    Downs = length([ok || W <- Waiters,
                          receive {answered, W, killed} -> true after 10000 -> false end]),
    %% Late responses to the dead coordinator's operations go nowhere, harmlessly.
    [gen_server:cast({ok_coord, node()}, {operation_response, {ok_op, I}, a@h, []})
     || I <- lists:seq(1, 100)],
    timer:sleep(100),
    Closed = phn_tracker:stats(T),
    #{downs => Downs, closed => Closed, peak => Peak, base => Base, after_kill => settle(Base)}.

%%% Cases: the C-node

%% Operations registered with the C-node on p1 and a victim; the victim answers half and is
%% killed. Each waiter gets one message: complete, or expired with the victim missing;
%% the C-node then holds nothing (ops, results, early responses).
cnode_peer_killed_mid_operation(_Config) ->
    Victim = phn_cluster:start_peer(victim2, ?COOKIE),
    CN = cnode(),
    P1 = node_of(p1),
    Refs = on(coord, ?MODULE, cn_register, [cn_fault_hub, 20, [P1, Victim], 1500]),
    {Half, _} = lists:split(10, Refs),
    ok = on_p(p1, respond, [cn_fault_hub, CN, Refs, 0]),
    ok = on_p(victim2, respond, [cn_fault_hub, CN, Half, 0]),
    timer:sleep(200),
    phn_cluster:kill_peer(victim2),
    Answers = on(coord, ?MODULE, cn_collect, [Refs, 6000]),
    ?assertEqual(10, length([A || {_, {complete, [_, _]}} = A <- Answers])),
    ?assertEqual(10, length([A || {_, {expired, [{N, _}], [V]}} = A <- Answers,
                                  N =:= P1, V =:= Victim])),
    assert_cnode_empty().

%% The C-node's side of a partition: a responder that cut its connection to the C-node
%% (and does not reconnect) cannot answer; its operations expire naming it.
cnode_network_partition(_Config) ->
    Part = phn_cluster:start_peer(part2, ?COOKIE, ["-kernel", "dist_auto_connect", "once"]),
    CN = cnode(),
    P1 = node_of(p1),
    pong = on(part2, net_adm, ping, [CN]),
    true = on(part2, erlang, disconnect_node, [CN]),
    Refs = on(coord, ?MODULE, cn_register, [cn_part_hub, 20, [P1, Part], 1500]),
    ok = on_p(p1, respond, [cn_part_hub, CN, Refs, 0]),
    ok = on_p(part2, respond, [cn_part_hub, CN, Refs, 0]),
    Answers = on(coord, ?MODULE, cn_collect, [Refs, 6000]),
    ?assertEqual(20, length([A || {_, {expired, [{N, _}], [M]}} = A <- Answers,
                                  N =:= P1, M =:= Part])),
    assert_cnode_empty(),
    phn_cluster:stop_peer(part2).

%% kill -9 of the C-node while p1 and p2 stream responses for 200 registered operations:
%% every waiter gets exactly one answer, {complete, _} or {error, cnode_down}, and no
%% waiter is left to its own timeout; a new C-node takes over, holds nothing of the old
%% one (late responses are held as early ones, then dropped after early_hold_ms), and a
%% new operation completes.
cnode_killed_mid_operation(_Config) ->
    CN = cnode(),
    [P1, P2] = [node_of(N) || N <- [p1, p2]],
    OsPid = on(coord, phn_cnode, os_pid, []),
    Refs = on(coord, ?MODULE, cn_register, [cn_kill_hub, 200, [P1, P2], 30000]),
    ok = on(p1, ?MODULE, respond_async, [cn_kill_hub, CN, Refs, 1]),
    ok = on(p2, ?MODULE, respond_async, [cn_kill_hub, CN, Refs, 1]),
    timer:sleep(100),
    os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    {Micros, Answers} = timer:tc(fun() -> on(coord, ?MODULE, cn_collect, [Refs, 20000]) end),
    Complete = [A || {_, {complete, _}} = A <- Answers],
    Down = [A || {_, {error, cnode_down}} = A <- Answers],
    ct:log("~p complete, ~p cnode_down, all answered in ~p ms",
           [length(Complete), length(Down), Micros div 1000]),
    ?assertEqual(200, length(Complete) + length(Down)),
    ?assert(length(Down) > 0),
    phn_cluster:wait_until(fun() ->
                                   New = on(coord, phn_cnode, os_pid, []),
                                   is_integer(New) andalso New =/= OsPid
                           end, 30000),
    %% Late responses reach the new C-node as early ones and are dropped in time.
    phn_cluster:wait_until(fun() -> maps:get(early, cnode_stats()) =:= 0 end,
                           ?EARLY_HOLD + 10000),
    [Ref] = on(coord, ?MODULE, cn_register, [cn_kill_hub2, 1, [P1], 10000]),
    ok = on_p(p1, respond, [cn_kill_hub2, cnode(), [Ref], 0]),
    [{Ref, {complete, [{P1, [{child, ok}]}]}}] = on(coord, ?MODULE, cn_collect, [[Ref], 10000]),
    assert_cnode_empty().

%% kill -9 of the C-node, 4 rounds, while 80 processes call phn_cnode without pause (60
%% control calls; 20 registering short operations and awaiting each) and 100 operations
%% are registered. phn_cnode never dies (same pid; calls queued behind the port's exit
%% used to crash it); every call gets a reply (ok, or {error, cnode_down}); every
%% registration answered ok gets exactly one outcome message and every refused one none;
%% after each restart the hub and its subscriber are back in the new C-node; at the end a
%% verdict change still reaches the subscriber and an operation completes.
cnode_killed_under_calls(_Config) ->
    P1 = node_of(p1),
    Pid = on(coord, erlang, whereis, [phn_cnode]),
    ok = on(coord, ?MODULE, load_hub_setup, []),
    [begin
         OsPid = on(coord, phn_cnode, os_pid, []),
         R = on(coord, ?MODULE, kill_round, [P1, OsPid]),
         #{bad_calls := Bad, registrants := Regs, callers_ops := Ops, calls := NCalls,
           same_pid := SamePid} = R,
         ct:log("round ~p: ~p calls, caller operations ~w, pending outcomes ~w, owner ~w",
                [Round, NCalls, tally([element(1, O) || O <- Ops]),
                 tally([O || {_, O} <- Regs]),
                 maps:with([send_failures, restarts, bad_packets], maps:get(info, R))]),
         ?assert(SamePid),
         ?assertEqual([], Bad),
         ?assertEqual(100, length(Regs)),
         ?assertEqual([], [X || {_, Outcome} = X <- Regs, Outcome =/= [{error, cnode_down}]]),
         ?assertEqual([], [X || X <- Ops, not one_outcome(X)]),
         ?assert(NCalls > 80),
         ?assertEqual(Pid, on(coord, erlang, whereis, [phn_cnode])),
         phn_cluster:wait_until(fun() ->
                                        New = on(coord, phn_cnode, os_pid, []),
                                        is_integer(New) andalso New =/= OsPid
                                end, 30000),
         phn_cluster:wait_until(fun() ->
                                        case on(coord, phn_cnode, hub_status, [load_hub]) of
                                            {ok, #{subscribers := 1}} -> true;
                                            _ -> false
                                        end
                                end, 30000)
     end || Round <- lists:seq(1, 4)],
    ?assertEqual(Pid, on(coord, erlang, whereis, [phn_cnode])),
    %% The subscriber given back still gets the verdicts: one node of a quorum of 2.
    {ok, true} = on(coord, phn_cnode, set_hub_nodes, [load_hub, [node_of(coord)]]),
    phn_cluster:wait_until(fun() ->
                                   lists:member({phn_cnode_partition, load_hub, true},
                                                on(coord, ?MODULE, load_sub_messages, []))
                           end, 10000),
    [Ref] = on(coord, ?MODULE, cn_register, [cn_load_hub2, 1, [P1], 10000]),
    ok = on_p(p1, respond, [cn_load_hub2, cnode(), [Ref], 0]),
    [{Ref, {complete, [{P1, [{child, ok}]}]}}] = on(coord, ?MODULE, cn_collect, [[Ref], 10000]),
    assert_cnode_empty().

tally(L) -> maps:to_list(lists:foldl(fun(X, M) -> maps:update_with(X, fun(N) -> N + 1 end, 1, M) end,
                                     #{}, L)).

%% A registration answered ok owes exactly one message; any other answer none.
one_outcome({ok, [_]}) -> true;
one_outcome({{error, cnode_down}, []}) -> true;
one_outcome(_) -> false.

%% On coord: a hub following the cluster (quorum 2 of coord, p1, p2) with one subscriber
%% that keeps what it gets.
load_hub_setup() ->
    Sub = spawn(fun() -> keep([]) end),
    register(phn_faults_load_sub, Sub),
    {ok, false} = phn_cnode:set_hub(load_hub, phn_partition:static_quorum(2), cluster),
    ok = phn_cnode:subscribe(load_hub, Sub).

keep(Msgs) ->
    receive
        {get, From} -> From ! {msgs, lists:reverse(Msgs)}, keep(Msgs);
        M -> keep([M | Msgs])
    end.

load_sub_messages() ->
    phn_faults_load_sub ! {get, self()},
    receive {msgs, Msgs} -> Msgs after 5000 -> [] end.

%% One round on coord: 100 operations registered (nobody answers them), 80 callers
%% running, the C-node killed, the callers stopped once it is back. Returns what must
%% hold: the calls whose reply is not allowed, each registrant's outcome messages, each
%% caller operation's {Reply, Messages}, the number of calls, whether phn_cnode is the
%% same process.
kill_round(P1, OsPid) ->
    Pid = whereis(phn_cnode),
    Self = self(),
    Regs = [spawn(fun() -> load_registrant(Self, P1) end) || _ <- lists:seq(1, 100)],
    [receive {registered, R, ok} -> ok after 15000 -> error({not_registered, R}) end
     || R <- Regs],
    Callers = [spawn(fun() -> load_caller(Self, control, []) end) || _ <- lists:seq(1, 60)] ++
              [spawn(fun() -> load_caller(Self, {register, P1}, []) end) || _ <- lists:seq(1, 20)],
    timer:sleep(100),
    os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    wait_new_os_pid(OsPid, 300),
    timer:sleep(200),
    [C ! stop || C <- Callers],
    Results = lists:append([receive {calls, C, Rs} -> Rs after 30000 -> [{C, no_report}] end
                            || C <- Callers]),
    Outcomes = [receive {outcome, R, Msgs} -> {R, Msgs} after 30000 -> {R, no_report} end
                || R <- Regs],
    Calls = [X || {call, X} <- Results],
    #{bad_calls => [X || X <- Calls, not allowed_reply(X)],
      calls => length(Calls) + length([X || {op, X} <- Results]),
      callers_ops => [X || {op, X} <- Results],
      registrants => Outcomes,
      same_pid => whereis(phn_cnode) =:= Pid andalso is_process_alive(Pid),
      info => phn_cnode:info()}.

wait_new_os_pid(_OsPid, 0) -> no_restart; % phn_cnode is gone: same_pid says so
wait_new_os_pid(OsPid, K) ->
    case catch phn_cnode:os_pid() of
        New when is_integer(New), New =/= OsPid -> ok;
        _ -> timer:sleep(50), wait_new_os_pid(OsPid, K - 1)
    end.

allowed_reply({ok, _}) -> true;
allowed_reply({error, not_found}) -> true; % a cancel of an unknown ref
allowed_reply({error, cnode_down}) -> true;
allowed_reply(_) -> false.

%% Registered before the kill, answered by nobody: exactly one outcome, cnode_down.
load_registrant(Report, P1) ->
    Ref = make_ref(),
    ok = phn_cnode:register_operation(Ref, load_hub, [P1], 60000),
    Report ! {registered, self(), ok},
    receive
        {phn_cnode_op, Ref, First} ->
            Report ! {outcome, self(), [First | collect_more(Ref, 300)]}
    after 20000 -> Report ! {outcome, self(), []}
    end.

collect_more(Ref, Ms) ->
    receive {phn_cnode_op, Ref, Body} -> [Body | collect_more(Ref, Ms)]
    after Ms -> []
    end.

%% Calls until told to stop; a call that exits is recorded as such.
load_caller(Report, Kind, Acc) ->
    receive
        stop -> Report ! {calls, self(), Acc}
    after 0 ->
        load_caller(Report, Kind, [load_call(Kind) | Acc])
    end.

load_call(control) ->
    Call = case rand:uniform(3) of
               1 -> fun() -> phn_cnode:stats() end;
               2 -> fun() -> phn_cnode:hub_status(load_hub) end;
               3 -> fun() -> phn_cnode:cancel_operation(make_ref()) end
           end,
    {call, try Call() of
               {ok, _} -> {ok, value}; % the value itself is not kept
               Other -> Other
           catch Class:Reason -> {raised, Class, Reason}
           end};
load_call({register, P1}) ->
    Ref = make_ref(),
    Reply = try phn_cnode:register_operation(Ref, load_hub, [P1], 50)
            catch Class:Reason -> {raised, Class, Reason}
            end,
    Msgs = case Reply of
               ok ->
                   receive {phn_cnode_op, Ref, First} -> [First | collect_more(Ref, 100)]
                   after 20000 -> []
                   end;
               _ -> collect_more(Ref, 100)
           end,
    {op, {Reply, Msgs}}.

assert_cnode_empty() ->
    phn_cluster:wait_until(fun() ->
                                   #{ops := Ops, result_bytes := RB, early := E,
                                     early_bytes := EB} = cnode_stats(),
                                   {Ops, RB, E, EB} =:= {0, 0, 0, 0}
                           end, ?EARLY_HOLD + 10000).

on_p(Name, F, A) -> on(Name, ?MODULE, F, A).

%% On coord: register N operations with the C-node, each for a waiter process of its own
%% that keeps the one message it gets. Returns the refs.
cn_register(Hub, N, Expected, TimeoutMs) ->
    Self = self(),
    Sink = case whereis(phn_faults_sink) of
               undefined ->
                   P = spawn(fun() -> sink(#{}) end),
                   register(phn_faults_sink, P),
                   P;
               P -> P
           end,
    Refs = [make_ref() || _ <- lists:seq(1, N)],
    [spawn(fun() ->
                   ok = phn_cnode:register_operation(Ref, Hub, Expected, TimeoutMs),
                   Self ! {registered, Ref},
                   Sink ! {answer, Ref, phn_cnode:await_operation(Ref, TimeoutMs + 10000)},
                   %% Exactly one message per operation: nothing more may follow.
                   receive {phn_cnode_op, Ref, Dup} -> Sink ! {duplicate, Ref, Dup}
                   after 300 -> ok
                   end
           end) || Ref <- Refs],
    [receive {registered, Ref} -> ok after 15000 -> error({not_registered, Ref}) end
     || Ref <- Refs],
    Refs.

sink(Answers) ->
    receive
        {answer, Ref, A} -> sink(Answers#{Ref => A});
        {duplicate, Ref, A} -> sink(Answers#{{dup, Ref} => A});
        {get, Refs, From} ->
            From ! {answers, [{R, maps:get(R, Answers, pending)} || R <- Refs],
                    [D || {{dup, _}, _} = D <- maps:to_list(Answers)]},
            sink(Answers)
    end.

%% Wait until every ref has its answer (or Ms pass); no duplicates allowed.
cn_collect(Refs, Ms) ->
    Deadline = erlang:monotonic_time(millisecond) + Ms,
    cn_collect_loop(Refs, Deadline).

cn_collect_loop(Refs, Deadline) ->
    phn_faults_sink ! {get, Refs, self()},
    {As, Dups} = receive {answers, A, D} -> {A, D} end,
    Done = not lists:keymember(pending, 2, As),
    case Done orelse erlang:monotonic_time(millisecond) > Deadline of
        true ->
            timer:sleep(350), % a duplicate would arrive within the waiters' 300 ms
            phn_faults_sink ! {get, Refs, self()},
            receive {answers, A2, []} -> A2;
                    {answers, _, Dups2} -> error({duplicates, Dups ++ Dups2})
            end;
        false -> timer:sleep(20), cn_collect_loop(Refs, Deadline)
    end.

%%% Cases: the NIF module upgraded or reloaded under a tracker

%% Loading phn_nif over the loaded module makes the library's upgrade callback take over
%% the tracker resource type: the tracker and its operations stay usable through the
%% upgrade and after the old code is purged, and its memory is freed as usual.
nif_upgrade_keeps_operations(_Config) ->
    phn_cluster:start_peer(nif1, ?COOKIE),
    R = on(nif1, ?MODULE, nif_upgrade, []),
    phn_cluster:stop_peer(nif1),
    #{upgraded := {module, phn_nif}, purged := true, size_after := 1000,
      record_after := {complete, [{a@h, [r1]}, {b@h, [r2]}]},
      peek_after := {ok, {m, 2}, 2}, base := Base, after_close := After} = R,
    ?assertEqual(maps:with([ops, kept_terms], Base), maps:with([ops, kept_terms], After)).

nif_upgrade() ->
    Base = phn_tracker:stats(),
    {Owner, T} = tracker_owner(1000),
    Upgraded = code:load_file(phn_nif),
    Size1 = phn_tracker:size(T),
    {pending, 1} = phn_tracker:record(T, 1, a@h, [r1]),
    Purged = code:soft_purge(phn_nif),
    R = #{upgraded => Upgraded, purged => Purged, size_after => Size1,
          record_after => phn_tracker:record(T, 1, b@h, [r2]),
          peek_after => phn_tracker:peek(T, 2)},
    Owner ! stop,
    R#{base => Base, after_close => settle_ops(Base)}.

%% A reload from scratch (code:delete + purge, then load) makes a new library instance
%% with a resource type of its own: trackers made before cannot be recognised any more, so
%% every call on one raises badarg (the documented error for a term that is not a
%% tracker); new trackers work; and the old tracker's operations are freed when its owner
%% exits, as always.
nif_reload_fails_cleanly(_Config) ->
    phn_cluster:start_peer(nif2, ?COOKIE),
    R = on(nif2, ?MODULE, nif_reload, []),
    phn_cluster:stop_peer(nif2),
    ct:log("~p", [R]),
    #{deleted := true, reloaded := {module, phn_nif}, old_calls := OldCalls,
      new_tracker := {complete, [{a@h, x}]}, held := 1000, base := Base,
      after_owner_exit := After} = R,
    ?assertEqual(lists:duplicate(length(OldCalls), badarg), OldCalls),
    ?assertEqual(maps:with([ops, kept_terms], Base), maps:with([ops, kept_terms], After)).

nif_reload() ->
    Base = phn_tracker:stats(),
    {Owner, T} = tracker_owner(1000),
    Deleted = code:delete(phn_nif),
    code:purge(phn_nif),
    Reloaded = code:load_file(phn_nif),
    Old = [fun() -> phn_tracker:size(T) end,
           fun() -> phn_tracker:record(T, 1, a@h, r) end,
           fun() -> phn_tracker:get(T, 1) end,
           fun() -> phn_tracker:cleanup_expired(T) end,
           fun() -> phn_tracker:close(T) end],
    OldCalls = [try F() of V -> {returned, V} catch error:badarg -> badarg end || F <- Old],
    T2 = phn_tracker:new(),
    ok = phn_tracker:track(T2, r, [a@h], #{timeout_ms => 1000}),
    NewTracker = phn_tracker:record(T2, r, a@h, x),
    Held = maps:get(ops, phn_tracker:stats()) - maps:get(ops, Base),
    Owner ! stop,
    #{deleted => Deleted, reloaded => Reloaded, old_calls => OldCalls,
      new_tracker => NewTracker, held => Held, base => Base,
      after_owner_exit => settle_ops(Base)}.

%% A process owning a tracker with N operations (refs 1..N, meta {m, I}, nodes a@h b@h).
tracker_owner(N) ->
    Self = self(),
    Owner = spawn(fun() ->
                          T = phn_tracker:new(),
                          [ok = phn_tracker:track(T, I, [a@h, b@h],
                                                  #{timeout_ms => 600000, meta => {m, I}})
                           || I <- lists:seq(1, N)],
                          Self ! {tracker, T},
                          receive stop -> ok end
                  end),
    receive {tracker, T} -> {Owner, T} after 10000 -> error(no_tracker) end.

settle_ops(Base) -> settle_ops(Base, 100).

settle_ops(_Base, 0) -> phn_tracker:stats();
settle_ops(Base, K) ->
    S = phn_tracker:stats(),
    case maps:with([ops, kept_terms], S) =:= maps:with([ops, kept_terms], Base) of
        true -> S;
        false -> timer:sleep(50), settle_ops(Base, K - 1)
    end.
