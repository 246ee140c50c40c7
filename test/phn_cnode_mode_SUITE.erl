%% Common Test: C-node mode behind a ProcessHub-shaped coordinator (test/phn_ph_coordinator.erl),
%% with the real C-node on a private epmd (test/phn_cluster.erl).
%%
%% The CT VM stays non-distributed and drives three peers over peer's standard_io channel:
%% `a' runs phn_cnode (so the C-node) and the originating coordinator, `b' and `c' are
%% target nodes; `a' is a target too. Each node runs the coordinator registered as ?HUB.
%% The coordinator calls only RequestManager functions (the drop-in), as ProcessHub's
%% does; C-node mode is switched on by phn_request_manager:set_default_mode(cnode) on `a'.
-module(phn_cnode_mode_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(COOKIE, "phn_ct_mode_cookie").
-define(HUB, phn_mode_hub).

suite() -> [{timetrap, {minutes, 5}}].

all() ->
    [cnode_mode_one_report_for_split_chunks,
     cnode_mode_answers_the_awaiter,
     cnode_mode_expiry,
     cnode_mode_cnode_dies,
     falls_back_when_cnode_not_running,
     falls_back_when_cnode_refuses,
     map_mode_again].

%%% Setup

init_per_suite(Config) ->
    case os:find_executable("epmd") of
        false -> {skip, "no epmd"};
        _ ->
            _ = phn_cluster:start(),
            [phn_cluster:start_peer(N, ?COOKIE) || N <- [a, b, c]],
            [true = on(a, net_kernel, connect_node, [node_of(N)]) || N <- [b, c]],
            ok = on(a, ?MODULE, start_cnode, [#{}]),
            [_ = on(N, phn_ph_coordinator, start, [?HUB]) || N <- [a, b, c]],
            Config
    end.

end_per_suite(_Config) ->
    catch on(a, phn_cnode, stop, []),
    phn_cluster:stop().

end_per_testcase(_Case, _Config) ->
    [ok = on(N, gen_server, call, [?HUB, {set_target, #{}}]) || N <- [a, b, c]],
    ok.

on(Name, M, F, A) -> phn_cluster:on(Name, M, F, A).
node_of(Name) -> phn_cluster:node_of(Name).
wait_until(Fun, Ms) -> phn_cluster:wait_until(Fun, Ms).

%% Run on `a': phn_cnode, not linked to the short-lived caller.
start_cnode(Opts) ->
    {ok, Pid} = phn_cnode:start_link(Opts),
    unlink(Pid),
    ok.

restart_cnode(Opts) ->
    catch on(a, phn_cnode, stop, []),
    %% The new C-node takes the same name: wait until epmd has let go of the old one.
    wait_until(fun() -> not on(a, ?MODULE, cnode_in_epmd, []) end, 10000),
    ok = on(a, ?MODULE, start_cnode, [Opts]).

cnode_in_epmd() ->
    {ok, Names} = erl_epmd:names("127.0.0.1"),
    lists:keymember("phn_cnode_a", 1, Names).

stats() ->
    {ok, S} = on(a, phn_cnode, stats, []),
    S.

delta(Key, Before, After) -> maps:get(Key, After) - maps:get(Key, Before).

kids(Node, N) -> [#{child_id => {Node, I}} || I <- lists:seq(1, N)].

%% A start as ProcessHub.start_children/3 asks the coordinator: its TxRef.
start(NodesData, Opts) ->
    {ok, #{ref := Ref}} =
        on(a, gen_server, call, [?HUB, {init_children_start, NodesData, Opts}]),
    Ref.

await(Ref) -> on(a, gen_server, call, [?HUB, {await_result, Ref}, 30000]).

log() -> on(a, ets, tab2list, [phn_ph_log]).

%% The results finalize produced for Ref (one per finalize).
finalized(Ref) -> [R || {{finalized, F, _}, R} <- log(), F =:= Ref].

%% The operation_response casts the coordinator got for Ref: {Sender, Kept} in order.
casts(Ref) -> [{Node, Kept} || {_, Node, _, Kept} <- lists:keysort(3, [E || {{cast, R}, _, _, _} = E <- log(), R =:= Ref])].

senders(Ref) -> [Node || {Node, _} <- casts(Ref)].

pending_refs() -> on(a, gen_server, call, [?HUB, pending_refs]).

%% Ref's finalize happened; then Settle ms more, to catch a second one.
wait_finalized(Ref, Settle) ->
    wait_until(fun() -> finalized(Ref) =/= [] end, 20000),
    timer:sleep(Settle),
    finalized(Ref).

started(#{started := Started}) ->
    lists:sort([{Cid, Node} || {Cid, [{Node, Pid}]} <- Started, is_pid(Pid)]).

expected_started(NodesData) ->
    lists:sort([{Cid, Node} || {Node, Kids} <- NodesData, #{child_id := Cid} <- Kids]).

%%% Cases

%% Three nodes, `b' sent 2500 children (3 chunks), `c' 1001 (2): the coordinator gets one
%% operation_response cast (from phn_cnode, not one per chunk), finalizes once with every
%% node's and chunk's results, and the operation is gone; the C-node counted 6 responses.
cnode_mode_one_report_for_split_chunks(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [cnode]),
    ?assertEqual(cnode, on(a, phn_request_manager, default_mode, [])),
    [A, B, C] = [node_of(N) || N <- [a, b, c]],
    Before = stats(),
    NodesData = [{A, kids(A, 10)}, {B, kids(B, 2500)}, {C, kids(C, 1001)}],
    Ref = start(NodesData, []),
    [Result] = wait_finalized(Ref, 500),
    ?assertMatch(#{status := ok, errors := []}, Result),
    ?assertEqual(expected_started(NodesData), started(Result)),
    ?assertEqual(3511, length(started(Result))),
    [{'$phn_cnode', {complete, NodeResults}}] = casts(Ref),
    ?assertEqual([A, B, C], [N || {N, _} <- NodeResults]),
    ?assertNot(lists:member(Ref, pending_refs())),
    After = stats(),
    ?assertEqual(6, delta(responses, Before, After)),
    ?assertEqual(1, delta(ops_registered, Before, After)),
    ?assertEqual(1, delta(ops_completed, Before, After)),
    ?assertEqual(0, maps:get(ops, on(a, phn_cnode, info, []))).

%% An awaiter (ProcessHub's Future.await) is answered by the report, with every result,
%% and finalize runs once.
cnode_mode_answers_the_awaiter(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [cnode]),
    [A, B, C] = [node_of(N) || N <- [a, b, c]],
    ok = on(b, gen_server, call, [?HUB, {set_target, #{delay => 1500}}]),
    NodesData = [{A, kids(A, 5)}, {B, kids(B, 1200)}, {C, kids(C, 5)}],
    Ref = start(NodesData, [{awaitable, true}, {timeout, 20000}]),
    Awaited = await(Ref),
    ?assertEqual(expected_started(NodesData), started(Awaited)),
    [Finalized] = wait_finalized(Ref, 300),
    ?assertEqual(Awaited, Finalized),
    ?assertEqual(['$phn_cnode'], senders(Ref)),
    ?assertNot(lists:member(Ref, pending_refs())).

%% `c' never answers: at expires_at the C-node reports what arrived; the operation stays,
%% with those results merged, no finalize; an await (timeout 0) then answers as map mode
%% would with those responses; another such operation is dropped by cleanup_expired.
cnode_mode_expiry(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [cnode]),
    [A, B, C] = [node_of(N) || N <- [a, b, c]],
    ok = on(c, gen_server, call, [?HUB, {set_target, #{silent => true}}]),
    Before = stats(),
    NodesData = [{A, kids(A, 3)}, {B, kids(B, 1100)}, {C, kids(C, 4)}],
    Ref = start(NodesData, [{request_timeout, 1500}, {timeout, 0}]),
    wait_until(fun() -> senders(Ref) =:= ['$phn_cnode'] end, 20000),
    [{'$phn_cnode', {expired, Collected, [C]}}] = casts(Ref),
    ?assertEqual([A, B], [N || {N, _} <- Collected]),
    ?assertEqual([], finalized(Ref)),
    ?assert(lists:member(Ref, pending_refs())),
    Partial = await(Ref),
    ?assertEqual(expected_started([{A, kids(A, 3)}, {B, kids(B, 1100)}]), started(Partial)),
    ?assertEqual(lists:sort([{Cid, {error, no_response}} || #{child_id := Cid} <- kids(C, 4)]),
                 lists:sort(maps:get(errors, Partial))),
    [_] = wait_finalized(Ref, 200),
    ?assertNot(lists:member(Ref, pending_refs())),

    Ref2 = start(NodesData, [{request_timeout, 1000}]),
    wait_until(fun() -> senders(Ref2) =:= ['$phn_cnode'] end, 20000),
    ?assert(lists:member(Ref2, pending_refs())),
    wait_until(fun() ->
                       on(a, erlang, send, [?HUB, cleanup_expired_requests]),
                       not lists:member(Ref2, pending_refs())
               end, 5000),
    ?assertEqual([], finalized(Ref2)),
    ?assertEqual(2, delta(ops_expired, Before, stats())).

%% The C-node is killed while it collects: the coordinator gets {error, cnode_down}, which
%% changes nothing (the operation stays, to expire or be awaited as in map mode, with what
%% the dead C-node held lost); phn_cnode restarts the C-node and the next operation
%% completes through it.
cnode_mode_cnode_dies(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [cnode]),
    [A, B, C] = [node_of(N) || N <- [a, b, c]],
    ok = on(c, gen_server, call, [?HUB, {set_target, #{silent => true}}]),
    NodesData = [{A, kids(A, 3)}, {B, kids(B, 4)}, {C, kids(C, 5)}],
    Ref = start(NodesData, [{timeout, 0}]),
    OsPid = on(a, phn_cnode, os_pid, []),
    os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    wait_until(fun() -> casts(Ref) =:= [{'$phn_cnode', {error, cnode_down}}] end, 20000),
    ?assertEqual([], finalized(Ref)),
    ?assert(lists:member(Ref, pending_refs())),
    Lost = await(Ref),
    ?assertEqual([], started(Lost)),
    ?assertEqual(12, length(maps:get(errors, Lost))),
    [_] = wait_finalized(Ref, 100),
    wait_until(fun() ->
                       New = on(a, phn_cnode, os_pid, []),
                       is_integer(New) andalso New =/= OsPid
               end, 20000),
    ok = on(c, gen_server, call, [?HUB, {set_target, #{}}]),
    Ref2 = start(NodesData, []),
    [Result] = wait_finalized(Ref2, 300),
    ?assertEqual(expected_started(NodesData), started(Result)),
    ?assertEqual(['$phn_cnode'], senders(Ref2)).

%% Default mode cnode, phn_cnode stopped: the operation runs in map mode, towards `a'.
falls_back_when_cnode_not_running(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [cnode]),
    ok = on(a, phn_cnode, stop, []),
    wait_until(fun() -> not on(a, ?MODULE, cnode_in_epmd, []) end, 10000),
    try
        [A, B, C] = [node_of(N) || N <- [a, b, c]],
        NodesData = [{A, kids(A, 10)}, {B, kids(B, 20)}, {C, kids(C, 30)}],
        Ref = start(NodesData, []),
        [Result] = wait_finalized(Ref, 300),
        ?assertEqual(expected_started(NodesData), started(Result)),
        ?assertEqual([A, B, C], lists:sort(senders(Ref)))
    after
        ok = on(a, ?MODULE, start_cnode, [#{}])
    end.

%% phn_cnode refuses the registration (its C-node at max_ops): map mode again, nothing lost.
falls_back_when_cnode_refuses(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [cnode]),
    restart_cnode(#{args => #{max_ops => 1}}),
    try
        [A, B, C] = [node_of(N) || N <- [a, b, c]],
        ok = on(a, phn_cnode, register_operation, [make_ref(), filler_hub, [A], 60000]),
        Before = stats(),
        NodesData = [{A, kids(A, 10)}, {B, kids(B, 20)}, {C, kids(C, 30)}],
        Ref = start(NodesData, []),
        [Result] = wait_finalized(Ref, 300),
        ?assertEqual(expected_started(NodesData), started(Result)),
        ?assertEqual([A, B, C], lists:sort(senders(Ref))),
        ?assertEqual(1, delta(ops_refused, Before, stats()))
    after
        restart_cnode(#{})
    end.

%% set_default_mode(map): responses come to the coordinator, one per chunk, and the C-node
%% registers nothing.
map_mode_again(_Config) ->
    ok = on(a, phn_request_manager, set_default_mode, [map]),
    ?assertEqual(map, on(a, phn_request_manager, default_mode, [])),
    [A, B, C] = [node_of(N) || N <- [a, b, c]],
    Before = stats(),
    NodesData = [{A, kids(A, 10)}, {B, kids(B, 20)}, {C, kids(C, 30)}],
    Ref = start(NodesData, []),
    [Result] = wait_finalized(Ref, 300),
    ?assertEqual(expected_started(NodesData), started(Result)),
    ?assertEqual([A, B, C], lists:sort(senders(Ref))),
    After = stats(),
    ?assertEqual(0, delta(ops_registered, Before, After)),
    ?assertEqual(0, delta(responses, Before, After)).
