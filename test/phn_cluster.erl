%% A private cluster for the multi-node suites, the soak run and the C-node benchmark: its own epmd on a free
%% port, and peer nodes booted with -epmd_port so that they use it. OTP 25's erl_epmd only
%% honours that boot flag, so the calling VM (CT's, or the soak driver's) cannot join at
%% run time: it stays non-distributed and drives the peers over peer's standard_io
%% channel (on/4,5). Peers see the code path of the caller's test build.
%%
%% State lives in persistent_term under {phn_cluster, ...}; one cluster per VM at a time.
-module(phn_cluster).

-export([start/0, start/1, stop/0, epmd_port/0, start_peer/2, start_peer/3, stop_peer/1, kill_peer/1,
         node_of/1, os_pid/1, on/4, on/5, peers/0, wait_until/2]).

-define(KEY(K), {?MODULE, K}).

%% @equiv start([])
-spec start() -> inet:port_number().
start() -> start([]).

%% Start epmd on a free port. Returns the port. The peers get the project's test build on
%% their code path, and the directories of Modules (the benchmark harness's, say).
-spec start([module()]) -> inet:port_number().
start(Modules) ->
    Epmd = case os:find_executable("epmd") of
               false -> error(no_epmd);
               E -> E
           end,
    Port = free_port(),
    os:cmd(Epmd ++ " -daemon -relaxed_command_check -port " ++ integer_to_list(Port)),
    ok = wait_epmd(Port, 50),
    Dirs = lists:usort([D || D <- code:get_path(), is_test_build_dir(D)] ++
                       [filename:absname(filename:dirname(code:which(M))) || M <- Modules]),
    persistent_term:put(?KEY(env), #{epmd => Port, dirs => Dirs}),
    Port.

%% Stop every peer and the epmd.
-spec stop() -> ok.
stop() ->
    [catch stop_peer(Name) || Name <- peers()],
    case persistent_term:get(?KEY(env), undefined) of
        #{epmd := Port} ->
            os:cmd("epmd -relaxed_command_check -port " ++ integer_to_list(Port) ++ " -kill"),
            persistent_term:erase(?KEY(env));
        undefined -> ok
    end,
    ok.

epmd_port() -> maps:get(epmd, persistent_term:get(?KEY(env))).

%% Directories of the project's build (ebin, test) and of its test-only dependencies.
is_test_build_dir(D) ->
    lists:any(fun(M) -> string:find(D, M) =/= nomatch end,
              ["process_hub_native", "/proper/"]).

free_port() ->
    {ok, S} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(S),
    gen_tcp:close(S),
    Port.

wait_epmd(_Port, 0) -> {error, epmd_not_up};
wait_epmd(Port, N) ->
    case gen_tcp:connect({127, 0, 0, 1}, Port, [], 200) of
        {ok, S} -> gen_tcp:close(S), ok;
        _ -> timer:sleep(100), wait_epmd(Port, N - 1)
    end.

%% @equiv start_peer(Name, Cookie, [])
start_peer(Name, Cookie) -> start_peer(Name, Cookie, []).

%% A peer `Name@127.0.0.1' with the given cookie and extra erl arguments. The peer inherits
%% PHN_CNODE_WRAPPER (so that a C-node it starts runs under the same wrapper).
-spec start_peer(atom(), string(), [string()]) -> node().
start_peer(Name, Cookie, Extra) ->
    #{epmd := Port, dirs := Dirs} = persistent_term:get(?KEY(env)),
    P = integer_to_list(Port),
    Env = [{"ERL_EPMD_PORT", P}] ++
          [{V, os:getenv(V)} || V <- ["PHN_CNODE_WRAPPER", "PHN_ASAN_CNODE", "PHN_ASAN_LOG_DIR"],
                                os:getenv(V) =/= false],
    {ok, Pid, Node} =
        peer:start(#{name => Name, host => "127.0.0.1", longnames => true,
                     connection => standard_io, wait_boot => 30000,
                     args => ["-setcookie", Cookie, "-epmd_port", P,
                              "-kernel", "net_ticktime", "20" | Extra] ++ ["-pa" | Dirs],
                     env => Env}),
    persistent_term:put(?KEY({peer, Name}), {Pid, Node}),
    Node.

stop_peer(Name) ->
    case persistent_term:get(?KEY({peer, Name}), undefined) of
        {Pid, _} ->
            catch peer:stop(Pid),
            persistent_term:erase(?KEY({peer, Name})),
            ok;
        undefined -> ok
    end.

%% kill -9 the peer's OS process: no chance to say goodbye to anyone.
kill_peer(Name) ->
    OsPid = os_pid(Name),
    os:cmd("kill -9 " ++ OsPid),
    {Pid, _} = persistent_term:get(?KEY({peer, Name})),
    catch peer:stop(Pid),
    persistent_term:erase(?KEY({peer, Name})),
    ok.

os_pid(Name) -> on(Name, os, getpid, []).

node_of(Name) -> element(2, persistent_term:get(?KEY({peer, Name}))).

peers() -> [N || {?KEY({peer, N}), _} <- persistent_term:get()].

on(Name, M, F, A) -> on(Name, M, F, A, 60000).

on(Name, M, F, A, Timeout) ->
    {Pid, _} = persistent_term:get(?KEY({peer, Name})),
    peer:call(Pid, M, F, A, Timeout).

%% Poll Fun until it returns true; fails with the last value after Ms.
wait_until(Fun, Ms) when Ms =< 0 ->
    error({condition_never_met, catch Fun()});
wait_until(Fun, Ms) ->
    case catch Fun() of
        true -> ok;
        _ -> timer:sleep(50), wait_until(Fun, Ms - 50)
    end.
