%% Common Test: the real C-node in a real cluster on a private epmd.
%%
%% OTP 25's erl_epmd only honours the -epmd_port boot flag, so the CT VM cannot join a
%% private epmd at run time. It therefore stays non-distributed and drives four peer
%% nodes over peer's standard_io channel, all booted with -epmd_port P: `coord' (runs
%% phn_cnode and so the C-node) and the responders p1, p2, p3. Responders answer exactly
%% as ProcessHub does (phn_request_manager:send_response/3, a gen_server cast to
%% {HubId, CNode}); gen_server calls to the C-node come from the peers, so they carry
%% OTP 25 alias tags.
%%
%% PHN_CNODE_WRAPPER (e.g. "valgrind --error-exitcode=1 --leak-check=full") runs every
%% C-node of the suite under that command; clean_exit then checks its exit status.
-module(phn_cnode_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(COOKIE, "phn_ct_cookie").
-define(START, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(MAX_MSG, 8388608).
-define(EARLY_MAX, 200).
-define(EARLY_HOLD, 1500).

suite() -> [{timetrap, {minutes, 8}}].

all() ->
    [collect_split_chunks,
     early_arrival,
     early_bounds,
     expiry_unexpected_extra_spoofed,
     call_tags_and_unknown_hub,
     partition_verdicts,
     silent_node_lost_by_own_view,
     bad_input,
     huge_and_oversized,
     wrong_cookie,
     stalled_handshakes,
     cookie_from_env_and_exit_on_port_close,
     bad_packets_from_port,
     register_twice_keeps_first,
     refused_registration_gets_no_message,
     call_queued_behind_cnode_exit,
     refused_without_distribution_or_cookie,
     clean_exit,
     kill_cnode_mid_operation,
     clean_exit_after_restart].

%%% Setup

init_per_suite(Config) ->
    case os:find_executable("epmd") of
        false -> {skip, "no epmd"};
        _ ->
            Port = phn_cluster:start(),
            [start_peer(N, ?COOKIE) || N <- [coord, p1, p2, p3]],
            [true = on(coord, net_kernel, connect_node, [node_of(N)]) || N <- [p1, p2, p3]],
            ok = on(coord, ?MODULE, coord_setup, [cnode_opts()]),
            [{epmd_port, Port} | Config]
    end.

end_per_suite(_Config) ->
    catch on(coord, phn_cnode, stop, []),
    phn_cluster:stop().

cnode_opts() ->
    #{args => #{silence_ms => 2000, reconnect_ms => 300, early_hold_ms => ?EARLY_HOLD,
                early_max => ?EARLY_MAX, max_msg => ?MAX_MSG},
      max_restarts => 20}.

%% The peers of the private cluster (test/phn_cluster.erl).
start_peer(Name, Cookie) -> phn_cluster:start_peer(Name, Cookie).
stop_peer(Name) -> phn_cluster:stop_peer(Name).
node_of(Name) -> phn_cluster:node_of(Name).
on(Name, M, F, A) -> phn_cluster:on(Name, M, F, A).

cnode() -> on(coord, phn_cnode, cnode, []).

stats() ->
    {ok, S} = on(coord, phn_cnode, stats, []),
    S.

wait_until(Fun, Ms) -> phn_cluster:wait_until(Fun, Ms).

%%% Run on the coordinator peer

%% phn_cnode, plus a sink process that keeps every message it gets (operation results,
%% verdict pushes) for the CT VM to inspect.
coord_setup(Opts) ->
    {ok, Pid} = phn_cnode:start_link(Opts),
    unlink(Pid),
    register(phn_ct_sink, spawn(fun() -> sink([]) end)),
    ok.

sink(Msgs) ->
    receive
        {'$sink_get', From} -> From ! {'$sink', lists:reverse(Msgs)}, sink(Msgs);
        Msg -> sink([Msg | Msgs])
    end.

sink_messages() ->
    phn_ct_sink ! {'$sink_get', self()},
    receive {'$sink', Msgs} -> Msgs after 5000 -> error(sink_timeout) end.

%% The operation as a ProcessHub coordinator builds it, composed so that responses go to
%% the C-node, each sub-request split like the Dispatcher does. Returns the TxRef, what
%% each chunk's target node must answer, and the expectations to register.
coord_prepare(Hub, NodesData, CNode) ->
    Op = phn_request_manager:new(#{hub_id => Hub}, ?START, NodesData, []),
    {ok, #{sub_requests := Subs, transaction_id := TxRef}} =
        phn_cnode:compose_sub_requests(Op, CNode),
    Chunks = [{Node, Chunk} || #{node := Node} = Sub <- Subs,
                               Chunk <- phn_request_manager:split(Sub)],
    Expected = [{Node, length([x || {N, _} <- Chunks, N =:= Node])} || {Node, _} <- NodesData],
    Sends = [{Node, phn_request_manager:request_to_opts(Chunk),
              [{maps:get(child_id, C), {ok, self()}} || C <- maps:get(children, Chunk)]}
             || {Node, Chunk} <- Chunks],
    {TxRef, Expected, Sends}.

coord_register(TxRef, Hub, Expected, Timeout) ->
    phn_cnode:register_operation(TxRef, Hub, Expected, Timeout, whereis(phn_ct_sink)).

%% Messages about TxRef, once at least one arrived (then Settle more ms, to catch any
%% duplicate).
coord_wait_op(TxRef, Timeout, Settle) ->
    Match = fun(Msgs) -> [M || {phn_cnode_op, T, _} = M <- Msgs, T =:= TxRef] end,
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    coord_wait(Match, Deadline, Settle).

coord_wait(Match, Deadline, Settle) ->
    case Match(sink_messages()) of
        [] ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> [];
                false -> timer:sleep(20), coord_wait(Match, Deadline, Settle)
            end;
        _ ->
            timer:sleep(Settle),
            Match(sink_messages())
    end.

coord_pushes() ->
    [M || M <- sink_messages(), element(1, M) =/= phn_cnode_op].

%%% Run on a responder peer

send_chunk(Name, {_Node, Opts, Results}) ->
    ok = on(Name, phn_request_manager, send_response, [operation_response, Opts, Results]).

%% An old-style call ({Pid, Ref} tag) and the two alias forms gen:reply/2 knows.
peer_raw_calls(Dest) ->
    Ref = make_ref(),
    erlang:send(Dest, {'$gen_call', {self(), Ref}, ping}),
    Plain = receive {Ref, R1} -> R1 after 5000 -> timeout end,
    A1 = alias(),
    erlang:send(Dest, {'$gen_call', {self(), [alias | A1]}, is_partitioned}),
    Alias = receive {[alias | A1], R2} -> R2 after 5000 -> timeout end,
    A2 = alias(),
    Tag = [[alias | A2] | extra],
    erlang:send(Dest, {'$gen_call', {self(), Tag}, ping}),
    Nested = receive {Tag, R3} -> R3 after 5000 -> timeout end,
    {Plain, Alias, Nested}.

peer_send_all(Dest, Msgs) ->
    [erlang:send(Dest, M) || M <- Msgs],
    ok.

node_name(Name) -> node_of(Name).

node_peer(Node) ->
    hd([N || N <- [coord, p1, p2, p3], node_of(N) =:= Node]).

%%% Cases

%% Three nodes, one of them sent 2500 children (3 chunks) and one 1001 (2 chunks), all
%% chunks arriving in shuffled order: one completion, every result, chunks of a node
%% concatenated in their arrival order, nodes in declaration order.
collect_split_chunks(_Config) ->
    CN = cnode(),
    [P1, P2, P3] = [node_of(N) || N <- [p1, p2, p3]],
    Kids = fun(Node, N) -> [#{child_id => {Node, I}} || I <- lists:seq(1, N)] end,
    NodesData = [{P1, Kids(P1, 2500)}, {P2, Kids(P2, 10)}, {P3, Kids(P3, 1001)}],
    {TxRef, Expected, Sends} = on(coord, ?MODULE, coord_prepare, [collect_hub, NodesData, CN]),
    ?assertEqual([{P1, 3}, {P2, 1}, {P3, 2}], Expected),
    ok = on(coord, ?MODULE, coord_register, [TxRef, collect_hub, Expected, 20000]),
    Shuffled = [S || {_, S} <- lists:sort([{rand:uniform(), S} || S <- Sends])],
    [send_chunk(node_peer(Node), S) || {Node, _, _} = S <- Shuffled],
    [{phn_cnode_op, TxRef, {complete, NodeResults}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef, 20000, 300]),
    ?assertEqual([P1, P2, P3], [N || {N, _} <- NodeResults]),
    [?assertEqual(lists:append([R || {N, _, R} <- Shuffled, N =:= Node]), Results)
     || {Node, Results} <- NodeResults],
    ?assertEqual(2500 + 10 + 1001, length(lists:append([R || {_, R} <- NodeResults]))).

%% Responses before the registration are held and applied: once with the last chunk
%% after the registration, once with everything early (complete inside the register).
early_arrival(_Config) ->
    CN = cnode(),
    [P1, P2] = [node_of(N) || N <- [p1, p2]],
    Before = stats(),
    NodesData = [{P1, [#{child_id => I} || I <- lists:seq(1, 1500)]}, {P2, [#{child_id => x}]}],
    {TxRef, Expected, [First | Rest]} = on(coord, ?MODULE, coord_prepare, [early_hub, NodesData, CN]),
    [send_chunk(node_peer(N), S) || {N, _, _} = S <- Rest],
    timer:sleep(300),
    ok = on(coord, ?MODULE, coord_register, [TxRef, early_hub, Expected, 10000]),
    ?assertEqual([], on(coord, ?MODULE, coord_wait_op, [TxRef, 300, 0])),
    send_chunk(node_peer(element(1, First)), First),
    [{phn_cnode_op, TxRef, {complete, [{P1, R1}, {P2, R2}]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef, 10000, 300]),
    ?assertEqual(1501, length(R1) + length(R2)),

    {TxRef2, Expected2, Sends2} = on(coord, ?MODULE, coord_prepare, [early_hub, NodesData, CN]),
    [send_chunk(node_peer(N), S) || {N, _, _} = S <- Sends2],
    timer:sleep(300),
    ok = on(coord, ?MODULE, coord_register, [TxRef2, early_hub, Expected2, 10000]),
    [{phn_cnode_op, TxRef2, {complete, [{P1, _}, {P2, _}]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef2, 10000, 300]),
    After = stats(),
    ?assert(maps:get(early_held, After) - maps:get(early_held, Before) >= 4),
    ?assert(maps:get(early_applied, After) - maps:get(early_applied, Before) >= 4),
    ?assertEqual(0, maps:get(early, After)).

%% Held responses are bounded in count (the rest refused and counted) and in time (all
%% dropped after early_hold_ms), and a registration after that finds nothing.
early_bounds(_Config) ->
    CN = cnode(),
    P1 = node_of(p1),
    Before = stats(),
    Refs = [make_ref() || _ <- lists:seq(1, ?EARLY_MAX + 50)],
    Msgs = [{'$gen_cast', {operation_response, R, P1, [{c, ok}]}} || R <- Refs],
    ok = on(p1, ?MODULE, peer_send_all, [{bounds_hub, CN}, Msgs]),
    wait_until(fun() -> maps:get(responses, stats()) - maps:get(responses, Before) >= ?EARLY_MAX + 50 end,
               10000),
    Mid = stats(),
    ?assertEqual(?EARLY_MAX, maps:get(early, Mid)),
    ?assertEqual(50, maps:get(early_refused, Mid) - maps:get(early_refused, Before)),
    wait_until(fun() -> maps:get(early, stats()) =:= 0 end, ?EARLY_HOLD + 5000),
    After = stats(),
    ?assertEqual(?EARLY_MAX, maps:get(early_expired, After) - maps:get(early_expired, Before)),
    ?assertEqual(0, maps:get(early_bytes, After)),
    %% Too late: the registration waits for a fresh response.
    ok = on(coord, ?MODULE, coord_register, [hd(Refs), bounds_hub, [P1], 500]),
    [{phn_cnode_op, _, {expired, [], [P1]}}] =
        on(coord, ?MODULE, coord_wait_op, [hd(Refs), 5000, 100]).

%% Deadline with one node silent: an expiry message with what arrived and who is
%% missing. Responses from a node outside the operation, an extra chunk and a node
%% answering for another are ignored and counted.
expiry_unexpected_extra_spoofed(_Config) ->
    CN = cnode(),
    [P1, P2, P3] = [node_of(N) || N <- [p1, p2, p3]],
    Before = stats(),
    TxRef = on(coord, erlang, make_ref, []),
    ok = on(coord, ?MODULE, coord_register, [TxRef, exp_hub, [{P1, 1}, {P2, 1}], 1500]),
    Cast = fun(Peer, Node, Results) ->
               on(Peer, gen_server, cast, [{exp_hub, CN}, {operation_response, TxRef, Node, Results}])
           end,
    ok = Cast(p1, P1, [{a, {ok, self()}}]),
    ok = Cast(p1, P1, [{a_again, ok}]),           % P1 owed one chunk: extra
    ok = Cast(p3, P3, [{c, ok}]),                 % P3 is not in the operation
    ok = Cast(p3, P2, [{forged, ok}]),            % P3 answering as P2
    ok = on(p1, gen_server, cast, [{other_hub, CN}, {operation_response, TxRef, P1, []}]),
    [{phn_cnode_op, TxRef, {expired, [{P1, [{a, {ok, _}}]}], [P2]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef, 10000, 300]),
    After = stats(),
    Diff = fun(K) -> maps:get(K, After) - maps:get(K, Before) end,
    ?assertEqual(1, Diff(ops_expired)),
    ?assertEqual(1, Diff(responses_extra)),
    ?assertEqual(1, Diff(responses_unexpected_node)),
    ?assertEqual(1, Diff(responses_spoofed)),
    ?assertEqual(1, Diff(responses_wrong_hub)).

%% gen_server calls reach the C-node from any node, with OTP 25 alias tags, old-style
%% tags and the nested alias form; unknown hubs and requests are refused, not crashed on.
call_tags_and_unknown_hub(_Config) ->
    CN = cnode(),
    {ok, false} = on(coord, phn_cnode, set_hub, [tags_hub, phn_partition:divergence(), cluster]),
    ?assertEqual(pong, on(p1, gen_server, call, [{tags_hub, CN}, ping])),
    ?assertEqual(false, on(p2, gen_server, call, [{tags_hub, CN}, is_partitioned])),
    ?assertEqual(false, on(coord, phn_cnode, is_partitioned, [tags_hub])),
    ?assertEqual({pong, false, pong}, on(p3, ?MODULE, peer_raw_calls, [{tags_hub, CN}])),
    ?assertEqual({error, unknown_hub}, on(p1, gen_server, call, [{no_such_hub, CN}, ping])),
    ?assertEqual({error, badarg}, on(p1, gen_server, call, [{tags_hub, CN}, {what, ever}])),
    ?assertEqual({error, badarg}, on(p1, gen_server, call, [{tags_hub, CN}, {subscribe, nopid}])),
    #{hub_id := tags_hub, strategy := 'Elixir.ProcessHub.Strategy.PartitionTolerance.Divergence'} =
        on(p1, gen_server, call, [{tags_hub, CN}, status]),
    ?assertEqual(pong, on(p2, net_adm, ping, [CN])).

%% Every strategy, once following the pushed node list (net_kernel:monitor_nodes) and once
%% with the C-node's own view of its connections (watch): stop peers, watch the verdicts
%% flip as REFERENCE.md §5 says, bring them back, watch them return.
partition_verdicts(_Config) ->
    All = [node_of(N) || N <- [coord, p1, p2, p3]],
    Strategies = [{static, phn_partition:static_quorum(4)},
                  {dynamic, phn_partition:dynamic_quorum(80)},
                  {majority, phn_partition:majority_quorum()},
                  {divergence, phn_partition:divergence()}],
    Hubs = [{hub(K, V), S, V} || {K, S} <- Strategies, V <- [push, view]],
    [begin
         Nodes = case V of push -> cluster; view -> All end,
         {ok, false} = on(coord, phn_cnode, set_hub, [H, S, Nodes, #{watch => V =:= view}]),
         ok = on(coord, phn_cnode, subscribe, [H, on(coord, erlang, whereis, [phn_ct_sink])])
     end || {H, S, V} <- Hubs],
    %% The own view needs the C-node's connections to every node first.
    wait_until(fun() -> view_lost(hub(static, view)) =:= [] andalso connected_to(All) end, 20000),
    Verdicts = fun(Expect) ->
                   [wait_until(fun() -> partitioned(H) =:= maps:get(K, Expect) end, 20000)
                    || {K, _} <- Strategies, H <- [hub(K, push), hub(K, view)]]
               end,
    Verdicts(#{static => false, dynamic => false, majority => false, divergence => false}),

    %% 4 -> 3 nodes: StaticQuorum(4) loses quorum; DynamicQuorum(80): 100 - 1/4*100 = 75
    %% < 80 fails; MajorityQuorum (max_seen 4, needs 3) holds; Divergence never locks.
    P3 = node_of(p3),
    stop_peer(p3),
    Verdicts(#{static => true, dynamic => true, majority => false, divergence => false}),
    ?assertEqual([P3], view_lost(hub(static, view))),
    %% 3 -> 2 nodes: MajorityQuorum locks too.
    stop_peer(p2),
    Verdicts(#{static => true, dynamic => true, majority => true, divergence => false}),
    {ok, #{state := #{dynamic_quorum_down_nodes := Log}}} =
        on(coord, phn_cnode, hub_status, [hub(dynamic, push)]),
    ?assertEqual(2, length(Log)),
    Pushes = on(coord, ?MODULE, coord_pushes, []),
    [?assert(lists:member({phn_cnode_partition, hub(K, V), true}, Pushes))
     || K <- [static, dynamic, majority], V <- [push, view]],
    ?assert(lists:member({phn_cnode_node, hub(static, view), P3, lost}, Pushes)),
    ?assertNot(lists:keymember(hub(divergence, push), 2, Pushes)),

    %% Both back: every hub unlocks (DynamicQuorum once both rows are pruned).
    [begin
         start_peer(N, ?COOKIE),
         true = on(coord, net_kernel, connect_node, [node_of(N)])
     end || N <- [p2, p3]],
    Verdicts(#{static => false, dynamic => false, majority => false, divergence => false}),
    Pushes2 = on(coord, ?MODULE, coord_pushes, []),
    ?assert(lists:member({phn_cnode_node, hub(static, view), P3, found}, Pushes2)),
    [?assert(lists:member({phn_cnode_partition, hub(K, push), false}, Pushes2))
     || K <- [static, dynamic, majority]].

%% A hung node (SIGSTOP: connection open, nothing sent) is lost by the C-node's own view
%% after silence_ms (2 s here), long before the BEAM's net_ticktime (20 s on the peers)
%% removes it from the pushed list; it is found again when it wakes up.
silent_node_lost_by_own_view(_Config) ->
    All = [node_of(N) || N <- [coord, p1, p2, p3]],
    S = phn_partition:static_quorum(4),
    {ok, false} = on(coord, phn_cnode, set_hub, [silent_view, S, All, #{watch => true}]),
    {ok, false} = on(coord, phn_cnode, set_hub, [silent_push, S, cluster]),
    wait_until(fun() -> view_lost(silent_view) =:= [] andalso connected_to(All) end, 20000),
    OsPid = on(p3, os, getpid, []),
    os:cmd("kill -STOP " ++ OsPid),
    try
        {Micros, ok} = timer:tc(fun() ->
                                    wait_until(fun() -> partitioned(silent_view) end, 10000)
                                end),
        ct:log("hung node lost by the own view after ~p ms", [Micros div 1000]),
        ?assertEqual([node_of(p3)], view_lost(silent_view)),
        ?assertEqual(false, partitioned(silent_push)) % the BEAM has not noticed yet
    after
        os:cmd("kill -CONT " ++ OsPid)
    end,
    wait_until(fun() -> partitioned(silent_view) =:= false end, 15000),
    ?assertEqual([], view_lost(silent_view)),
    ?assertEqual(false, partitioned(silent_push)).

hub(Kind, View) -> list_to_atom(atom_to_list(Kind) ++ "_" ++ atom_to_list(View)).

partitioned(Hub) -> on(p1, gen_server, call, [{Hub, cnode()}, is_partitioned]).

view_lost(Hub) ->
    {ok, #{lost := Lost}} = on(coord, phn_cnode, hub_status, [Hub]),
    Lost.

connected_to(Nodes) ->
    %% The C-node's connections: every node it reaches answers through them.
    lists:all(fun(N) -> N =:= node_of(coord) orelse
                            on(node_peer(N), net_adm, ping, [cnode()]) =:= pong end, Nodes).

%% Garbage over distribution and over the control channel: dropped or refused, counted,
%% and the C-node keeps serving.
bad_input(_Config) ->
    CN = cnode(),
    OsPid = on(coord, phn_cnode, os_pid, []),
    {ok, false} = on(coord, phn_cnode, set_hub, [bad_hub, phn_partition:static_quorum(1), cluster]),
    Before = stats(),
    Deep = lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 100000)),
    DeepTuple = lists:foldl(fun(_, Acc) -> {Acc} end, x, lists:seq(1, 50000)),
    Garbage =
        [garbage, 42, 3.14, <<1, 2, 3>>, <<1:3>>, "string", [a | b], #{a => b}, self(),
         make_ref(), fun erlang:self/0, 1 bsl 300, Deep, DeepTuple,
         {'$gen_cast'}, {'$gen_cast', garbage}, {'$gen_cast', {operation_response}},
         {'$gen_cast', {operation_response, not_a_ref, node(), []}},
         {'$gen_cast', {operation_response, make_ref(), "not an atom", []}},
         {'$gen_cast', {operation_response, make_ref(), node(), [a | improper]}},
         {'$gen_cast', {operation_response, make_ref(), node(), not_a_list}},
         {'$gen_cast', {operation_response, make_ref(), node(), Deep}},
         {'$gen_call', not_from, ping}, {'$gen_call', {self()}, ping},
         {'$gen_call', {not_a_pid, tag}, ping}, {'$gen_call', {self(), tag}},
         {'$gen_call', {self(), [alias | not_a_ref]}, ping}],
    ok = on(p1, ?MODULE, peer_send_all, [{bad_hub, CN}, Garbage]),
    ok = on(p1, ?MODULE, peer_send_all, [{unknown_hub, CN}, Garbage]),
    ?assertEqual({error, badarg}, on(p1, gen_server, call, [{bad_hub, CN}, Deep])),
    ?assertEqual({error, unknown_hub}, on(p1, gen_server, call, [{unknown_hub, CN}, x])),
    %% Control channel: malformed commands get {error, badarg}, the rest is checked too.
    Ctl = fun(Cmd) -> on(coord, gen_server, call, [phn_cnode, {ctl, Cmd}]) end,
    Ref = on(coord, erlang, make_ref, []),
    ?assertEqual({error, badarg}, Ctl({register, not_a_ref, h, [n@h], 100})),
    ?assertEqual({error, badarg}, Ctl({register, Ref, h, [], 100})),
    ?assertEqual({error, badarg}, Ctl({register, Ref, h, [{n@h, 0}], 100})),
    ?assertEqual({error, badarg}, Ctl({register, Ref, h, [n@h | x], 100})),
    ?assertEqual({error, badarg}, Ctl({register, Ref, h, [n@h], -1})),
    ?assertEqual({error, badarg}, Ctl({register, Ref, "h", [n@h], 100})),
    ?assertEqual({error, badarg}, Ctl({set_hub, h, #{}, [], #{}})),
    ?assertEqual({error, badarg}, Ctl({set_hub, h, #{'__struct__' => nope}, [], #{}})),
    ?assertEqual({error, badarg},
                 Ctl({set_hub, h, phn_partition:static_quorum(1), [a | b], #{}})),
    ?assertEqual({error, badarg},
                 Ctl({set_hub, h, maps:remove(quorum_size, phn_partition:static_quorum(1)),
                      [], #{}})),
    ?assertEqual({error, badarg}, Ctl({set_hub, h, phn_partition:divergence(), [], not_a_map})),
    ?assertEqual({error, badarg}, Ctl({no_such_command})),
    ?assertEqual({error, badarg}, Ctl({stats, extra_arg})),
    ?assertEqual({error, unknown_hub}, Ctl({status, no_such_hub})),
    ?assertEqual({error, unknown_hub}, Ctl({reset_cluster_size, no_such_hub, 3})),
    ?assertEqual({error, badarg}, Ctl({reset_cluster_size, bad_hub, 0})),
    ?assertEqual({error, not_found}, Ctl({cancel, Ref})),
    ok = on(coord, ?MODULE, coord_register, [Ref, h, [n@h], 60000]),
    ?assertEqual({error, exists}, on(coord, ?MODULE, coord_register, [Ref, h, [n@h], 60000])),
    ?assertEqual(ok, on(coord, phn_cnode, cancel_operation, [Ref])),
    %% Still alive, same process, still answering.
    ?assertEqual(false, on(p2, gen_server, call, [{bad_hub, CN}, is_partitioned])),
    ?assertEqual(OsPid, on(coord, phn_cnode, os_pid, [])),
    After = stats(),
    ?assert(maps:get(msgs_unknown, After) > maps:get(msgs_unknown, Before)),
    ?assert(maps:get(msgs_malformed, After) > maps:get(msgs_malformed, Before)),
    ?assert(maps:get(calls_unknown_hub, After) > maps:get(calls_unknown_hub, Before)).

%% A 4 MB result passes whole; a message above --max-msg (8 MB here) closes that peer's
%% connection before it is buffered; atoms at the length limit are handled.
huge_and_oversized(_Config) ->
    CN = cnode(),
    P1 = node_of(p1),
    OsPid = on(coord, phn_cnode, os_pid, []),
    Big = binary:copy(<<"x">>, 4 * 1024 * 1024),
    TxRef = on(coord, erlang, make_ref, []),
    ok = on(coord, ?MODULE, coord_register, [TxRef, huge_hub, [P1], 20000]),
    ok = on(p1, gen_server, cast, [{huge_hub, CN}, {operation_response, TxRef, P1, [{big, Big}]}]),
    [{phn_cnode_op, TxRef, {complete, [{P1, [{big, Got}]}]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef, 20000, 100]),
    ?assert(Big =:= Got), % not assertEqual: a mismatch would print 4 MB
    Before = stats(),
    TooBig = binary:copy(<<"y">>, ?MAX_MSG + 1024),
    ok = on(p1, ?MODULE, peer_send_all,
            [{huge_hub, CN}, [{'$gen_cast', {operation_response, TxRef, P1, [TooBig]}}]]),
    wait_until(fun() -> maps:get(msgs_oversized, stats()) > maps:get(msgs_oversized, Before) end,
               10000),
    LongAtom = list_to_atom(lists:duplicate(255, 16#1F600)), % 255 chars, 1020 bytes
    ok = on(p1, ?MODULE, peer_send_all,
            [{LongAtom, CN}, [{'$gen_cast', {operation_response, TxRef, LongAtom, []}}]]),
    ?assertEqual({error, unknown_hub}, on(p1, gen_server, call, [{LongAtom, CN}, LongAtom])),
    ?assertEqual(OsPid, on(coord, phn_cnode, os_pid, [])).

%% A node with another cookie cannot connect, so cannot send anything; the C-node
%% counts the failed handshake and carries on.
wrong_cookie(_Config) ->
    CN = cnode(),
    Before = stats(),
    Bad = start_peer(intruder, "not_the_cookie"),
    ?assertEqual(false, on(intruder, net_kernel, connect_node, [CN])),
    ok = on(intruder, gen_server, cast, [{any_hub, CN}, {operation_response, make_ref(), Bad, []}]),
    ?assertEqual(pang, on(intruder, net_adm, ping, [CN])),
    stop_peer(intruder),
    After = stats(),
    ?assert(maps:get(handshake_failures, After) > maps:get(handshake_failures, Before)),
    ?assertEqual(0, maps:get(responses, After) - maps:get(responses, Before)),
    ?assertEqual(pong, on(p1, net_adm, ping, [CN])).

%% Handshakes run in their own threads: peers that open a connection and never finish
%% the handshake do not keep another node from connecting, nor delay established ones.
stalled_handshakes(_Config) ->
    CN = cnode(),
    #{port := Port} = stats(),
    Stalled = [begin
                   {ok, S} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
                   S
               end || _ <- lists:seq(1, 3)],
    timer:sleep(200),
    {T1, pong} = timer:tc(fun() -> on(p1, net_adm, ping, [CN]) end),
    start_peer(fresh, ?COOKIE),
    {T2, pong} = timer:tc(fun() -> on(fresh, net_adm, ping, [CN]) end),
    ct:log("established ping ~p us, new connection ping ~p us", [T1, T2]),
    ?assert(T1 < 1000000),
    ?assert(T2 < 3000000), % a handshake step times out only after 5 s
    [gen_tcp:close(S) || S <- Stalled],
    stop_peer(fresh).

%% The cookie may come from PHN_CNODE_COOKIE instead of the control channel; either way
%% it is in neither the command line nor the environment the process shows, and the
%% C-node exits as soon as its port closes.
cookie_from_env_and_exit_on_port_close(_Config) ->
    {Pong, InCmdline, InEnviron, Gone} = on(coord, ?MODULE, coord_env_cnode, [?COOKIE]),
    ?assertEqual(pong, Pong),
    ?assertEqual(nomatch, InCmdline),
    ?assertEqual(nomatch, InEnviron),
    ?assert(Gone).

coord_env_cnode(Cookie) ->
    Exe = filename:join(code:priv_dir(process_hub_native), "phn_cnode"),
    Port = open_port({spawn_executable, Exe},
                     [{args, ["--name", "phn_env_cn@127.0.0.1"]}, {packet, 4}, binary,
                      exit_status, use_stdio,
                      {env, [{"PHN_CNODE_COOKIE", Cookie},
                             {"ERL_EPMD_PORT", os:getenv("ERL_EPMD_PORT")}]}]),
    CN = receive {Port, {data, B}} -> element(2, binary_to_term(B)) after 20000 -> error(not_ready) end,
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    Proc = "/proc/" ++ integer_to_list(OsPid),
    Read = fun(F) -> case file:read_file(Proc ++ F) of {ok, Bin} -> Bin; _ -> <<>> end end,
    Cmdline = Read("/cmdline"),
    Environ = Read("/environ"),
    Pong = net_adm:ping(CN),
    port_close(Port),
    Gone = lists:any(fun(_) ->
                             timer:sleep(100),
                             not filelib:is_dir(Proc)
                     end, lists:seq(1, 50)),
    {Pong, binary:match(Cmdline, list_to_binary(Cookie)),
     binary:match(Environ, list_to_binary(Cookie)), Gone}.

%% Packets on phn_cnode's own port that do not decode (an atom with invalid UTF-8, junk,
%% truncated terms, an operation result whose body does not decode): phn_cnode counts and
%% drops them and lives on (same process, same C-node); the operation a bad result names
%% gets {error, undecodable}, and another registered operation still completes.
bad_packets_from_port(_Config) ->
    CN = cnode(),
    P1 = node_of(p1),
    OsPid = on(coord, phn_cnode, os_pid, []),
    [Good, Named] = [on(coord, erlang, make_ref, []) || _ <- [1, 2]],
    ok = on(coord, ?MODULE, coord_register, [Good, badpkt_hub, [P1], 30000]),
    ok = on(coord, ?MODULE, coord_register, [Named, badpkt_hub, [P1], 30000]),
    {Alive, Counted} = on(coord, ?MODULE, coord_send_bad_packets, [Named]),
    ?assert(Alive),
    ?assertEqual(7, Counted),
    [{phn_cnode_op, Named, {error, undecodable}}] =
        on(coord, ?MODULE, coord_wait_op, [Named, 5000, 100]),
    ok = on(p1, gen_server, cast, [{badpkt_hub, CN}, {operation_response, Good, P1, [ok]}]),
    [{phn_cnode_op, Good, {complete, [{P1, [ok]}]}}] =
        on(coord, ?MODULE, coord_wait_op, [Good, 10000, 200]),
    ?assertEqual(OsPid, on(coord, phn_cnode, os_pid, [])).

coord_send_bad_packets(Named) ->
    Pid = whereis(phn_cnode),
    #{port := Port, bad_packets := Before} = phn_cnode:info(),
    Enc = fun(T) -> <<131, B/binary>> = term_to_binary(T), B end,
    BadAtom = <<118, 0, 1, 255>>, % ATOM_UTF8_EXT of the single byte 255: not UTF-8
    Bad = [<<131, BadAtom/binary>>,
           <<>>,
           <<"not a term">>,
           <<131>>,
           <<131, 104, 3, BadAtom/binary>>,
           <<131, 104, 3, (Enc(reply))/binary, (Enc(999999999))/binary, BadAtom/binary>>,
           <<131, 104, 3, (Enc(op_result))/binary, (Enc(Named))/binary, BadAtom/binary>>],
    [Pid ! {Port, {data, B}} || B <- Bad],
    {ok, _} = phn_cnode:stats(), % answered after the bad packets were handled
    #{bad_packets := After} = phn_cnode:info(),
    {whereis(phn_cnode) =:= Pid andalso is_process_alive(Pid), After - Before}.

%% A second registration of a TxRef (a retry after a call timeout, or two at once) is
%% refused with exists and leaves the first intact: its registrant gets its one result.
register_twice_keeps_first(_Config) ->
    CN = cnode(),
    P1 = node_of(p1),
    TxRef = on(coord, erlang, make_ref, []),
    ok = on(coord, ?MODULE, coord_register, [TxRef, twice_hub, [P1], 30000]),
    ?assertEqual({error, exists}, on(coord, ?MODULE, coord_register, [TxRef, twice_hub, [P1], 30000])),
    ok = on(p1, gen_server, cast, [{twice_hub, CN}, {operation_response, TxRef, P1, [first]}]),
    [{phn_cnode_op, TxRef, {complete, [{P1, [first]}]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef, 10000, 300]),
    %% Two at once, before the C-node answers either: one ok, one exists, one message.
    TxRef2 = on(coord, erlang, make_ref, []),
    Answers = on(coord, ?MODULE, coord_register_concurrently, [TxRef2, twice_hub, [P1], 2]),
    ?assertEqual([ok, {error, exists}], lists:sort(Answers)),
    ok = on(p1, gen_server, cast, [{twice_hub, CN}, {operation_response, TxRef2, P1, [second]}]),
    [{phn_cnode_op, TxRef2, {complete, [{P1, [second]}]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef2, 10000, 300]),
    %% Done with it: the TxRef may be registered again.
    ok = on(coord, ?MODULE, coord_register, [TxRef2, twice_hub, [P1], 30000]),
    ok = on(coord, phn_cnode, cancel_operation, [TxRef2]).

coord_register_concurrently(TxRef, Hub, Expected, N) ->
    Self = self(),
    Sink = whereis(phn_ct_sink),
    ok = sys:suspend(phn_cnode), % so that every call is queued before the first is handled
    Pids = [spawn(fun() ->
                          Self ! {self(), phn_cnode:register_operation(TxRef, Hub, Expected,
                                                                       30000, Sink)}
                  end) || _ <- lists:seq(1, N)],
    wait_queued(phn_cnode, N),
    ok = sys:resume(phn_cnode),
    [receive {P, A} -> A after 15000 -> timeout end || P <- Pids].

wait_queued(Name, N) ->
    case process_info(whereis(Name), message_queue_len) of
        {message_queue_len, L} when L >= N -> ok;
        _ -> timer:sleep(10), wait_queued(Name, N)
    end.

%% A registration the C-node never answered because it died is answered
%% {error, cnode_down}, and its registrant then gets no {phn_cnode_op, ...} for the
%% operation that never was; an operation registered before gets exactly one.
refused_registration_gets_no_message(_Config) ->
    P1 = node_of(p1),
    OsPid = on(coord, phn_cnode, os_pid, []),
    R = on(coord, ?MODULE, coord_register_while_cnode_dies, [P1, OsPid]),
    #{reply := Reply, messages := Msgs, registered := Registered, same_pid := SamePid} = R,
    ?assertEqual({error, cnode_down}, Reply),
    ?assertEqual([], Msgs),
    ?assertEqual([{error, cnode_down}], Registered),
    ?assert(SamePid),
    wait_restarted(OsPid).

%% The C-node is stopped (SIGSTOP) so that it cannot answer; a registration is sent to
%% it; then it is killed.
coord_register_while_cnode_dies(P1, OsPid) ->
    Pid = whereis(phn_cnode),
    Self = self(),
    Before = make_ref(),
    ok = phn_cnode:register_operation(Before, dies_hub, [P1], 60000),
    os:cmd("kill -STOP " ++ integer_to_list(OsPid)),
    TxRef = make_ref(),
    Registrant = spawn(fun() -> registrant(Self, TxRef, P1) end),
    wait_info(fun(#{ops := N}) -> N >= 2 end), % Before, and TxRef sent to the C-node
    os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    Result = receive {Registrant, Res} -> Res after 30000 -> error(no_registrant_result) end,
    Registered = collect_op(Before, 1000),
    Result#{registered => Registered, same_pid => whereis(phn_cnode) =:= Pid}.

%% Registers TxRef, then reports its reply and every message about it within 1 s.
registrant(Report, TxRef, P1) ->
    Reply = phn_cnode:register_operation(TxRef, dies_hub, [P1], 200),
    Report ! {self(), #{reply => Reply, messages => collect_op(TxRef, 1000)}}.

collect_op(TxRef, Ms) ->
    receive {phn_cnode_op, TxRef, Body} -> [Body | collect_op(TxRef, Ms)]
    after Ms -> []
    end.

wait_info(Pred) ->
    case Pred(phn_cnode:info()) of
        true -> ok;
        false -> timer:sleep(10), wait_info(Pred)
    end.

wait_restarted(OsPid) ->
    wait_until(fun() ->
                   New = on(coord, phn_cnode, os_pid, []),
                   is_integer(New) andalso New =/= OsPid
               end, 30000).

%% A call queued behind the dead C-node's exit message: the port is closed when
%% phn_cnode handles it. phn_cnode answers it {error, cnode_down} (it used to crash on
%% port_command's badarg), then restarts the C-node and gives the hubs back.
call_queued_behind_cnode_exit(_Config) ->
    OsPid = on(coord, phn_cnode, os_pid, []),
    {ok, false} = on(coord, phn_cnode, set_hub, [queued_hub, phn_partition:static_quorum(1), cluster]),
    ok = on(coord, phn_cnode, subscribe, [queued_hub, on(coord, erlang, whereis, [phn_ct_sink])]),
    #{replies := Replies, same_pid := SamePid, info := Info} =
        on(coord, ?MODULE, coord_call_behind_exit, [node_of(p1), OsPid]),
    ?assert(SamePid),
    ?assertEqual([{error, cnode_down}, {reply, {error, cnode_down}, []}], Replies),
    ?assert(maps:get(send_failures, Info) >= 2),
    wait_restarted(OsPid),
    wait_until(fun() ->
                   case on(coord, phn_cnode, hub_status, [queued_hub]) of
                       {ok, #{subscribers := 1, partitioned := false}} -> true;
                       _ -> false
                   end
               end, 30000).

coord_call_behind_exit(P1, OsPid) ->
    Pid = whereis(phn_cnode),
    #{port := Port} = phn_cnode:info(),
    Self = self(),
    ok = sys:suspend(phn_cnode),
    Stats = spawn(fun() -> Self ! {self(), phn_cnode:stats()} end),
    TxRef = make_ref(),
    Reg = spawn(fun() -> registrant(Self, TxRef, P1) end),
    wait_queued(phn_cnode, 2),
    os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    wait_port_closed(Port),
    ok = sys:resume(phn_cnode),
    StatsReply = receive {Stats, S} -> S after 10000 -> no_reply end,
    #{reply := RegReply, messages := Msgs} =
        receive {Reg, R} -> R after 10000 -> #{reply => no_reply, messages => []} end,
    #{replies => [StatsReply, {reply, RegReply, Msgs}],
      same_pid => whereis(phn_cnode) =:= Pid andalso is_process_alive(Pid),
      info => phn_cnode:info()}.

wait_port_closed(Port) ->
    case erlang:port_info(Port) of
        undefined -> ok;
        _ -> timer:sleep(10), wait_port_closed(Port)
    end.

%% Without distribution (node() is nonode@nohost, the cookie nocookie) phn_cnode refuses
%% to start; once the same VM is distributed it starts; a cookie of nocookie or empty is
%% refused. Checked on a peer booted without a node name.
refused_without_distribution_or_cookie(_Config) ->
    Dirs = [D || D <- code:get_path(), string:find(D, "process_hub_native") =/= nomatch],
    EpmdPort = integer_to_list(phn_cluster:epmd_port()),
    {ok, Peer, nonode@nohost} =
        peer:start(#{connection => standard_io, wait_boot => 30000,
                     args => ["-setcookie", ?COOKIE, "-epmd_port", EpmdPort, "-pa" | Dirs],
                     env => [{"ERL_EPMD_PORT", EpmdPort}]}),
    try
        R = peer:call(Peer, ?MODULE, late_distribution, [], 60000),
        ct:log("~p", [R]),
        #{before := Before, before_cookie := BeforeCookie, no_cookie := NoCookie,
          empty := Empty, started := Started, whereis_before := undefined} = R,
        ?assertEqual({error, not_distributed}, Before),
        ?assertEqual({error, not_distributed}, BeforeCookie),
        ?assertEqual([{error, no_cookie}, {error, no_cookie}, {error, no_cookie}], NoCookie),
        ?assertEqual({error, no_cookie}, Empty),
        ?assertMatch({ok, _, {ok, #{}}}, Started)
    after
        peer:stop(Peer)
    end.

late_distribution() ->
    Before = phn_cnode:start_link(#{}),
    BeforeCookie = phn_cnode:start_link(#{cookie => "a_real_cookie"}),
    WhereisBefore = whereis(phn_cnode),
    {ok, _} = net_kernel:start(['phn_late@127.0.0.1', longnames]),
    NoCookie = [phn_cnode:start_link(#{cookie => C}) || C <- [nocookie, "", <<>>]],
    Empty = phn_cnode:start_link(#{cookie => ''}),
    Started = case phn_cnode:start_link(#{}) of
                  {ok, _Pid} ->
                      Stats = phn_cnode:stats(),
                      CN = phn_cnode:cnode(),
                      ok = phn_cnode:stop(),
                      {ok, CN, Stats};
                  Other -> Other
              end,
    #{before => Before, before_cookie => BeforeCookie, whereis_before => WhereisBefore,
      no_cookie => NoCookie, empty => Empty, started => Started}.

%% The C-node exits on request; 0 means clean (under valgrind: no errors, no leaks).
clean_exit(_Config) ->
    {ok, Status} = on(coord, phn_cnode, shutdown_cnode, []),
    ct:log("C-node exit status ~p (wrapper: ~p)", [Status, os:getenv("PHN_CNODE_WRAPPER")]),
    ?assertEqual(0, Status),
    %% phn_cnode restarted it and re-seeded the hubs.
    wait_until(fun() -> is_integer(on(coord, phn_cnode, os_pid, [])) end, 30000),
    wait_until(fun() -> partitioned(static_push) =:= false end, 30000).

%% Kill -9 with an operation pending: the waiter gets {error, cnode_down} at once,
%% phn_cnode starts a new C-node, hub verdicts come back, new operations work.
kill_cnode_mid_operation(_Config) ->
    P1 = node_of(p1),
    TxRef = on(coord, erlang, make_ref, []),
    ok = on(coord, ?MODULE, coord_register, [TxRef, kill_hub, [P1], 60000]),
    OsPid = on(coord, phn_cnode, os_pid, []),
    os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    [{phn_cnode_op, TxRef, {error, cnode_down}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef, 20000, 300]),
    wait_until(fun() ->
                   New = on(coord, phn_cnode, os_pid, []),
                   is_integer(New) andalso New =/= OsPid
               end, 30000),
    wait_until(fun() -> partitioned(static_push) =:= false end, 30000),
    {ok, #{strategy := 'Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum'}} =
        on(coord, phn_cnode, hub_status, [static_push]),
    CN = cnode(),
    TxRef2 = on(coord, erlang, make_ref, []),
    ok = on(coord, ?MODULE, coord_register, [TxRef2, kill_hub, [P1], 20000]),
    ok = on(p1, gen_server, cast, [{kill_hub, CN}, {operation_response, TxRef2, P1, [ok]}]),
    [{phn_cnode_op, TxRef2, {complete, [{P1, [ok]}]}}] =
        on(coord, ?MODULE, coord_wait_op, [TxRef2, 20000, 100]).

clean_exit_after_restart(Config) ->
    clean_exit(Config).
