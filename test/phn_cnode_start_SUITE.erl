%% Common Test: phn_cnode:start_link/1 names why a C-node cannot start (docs/errors.md).
%% The real C-node binary, on a private epmd (test/phn_cluster.erl); the calls run on
%% distributed peers, since the CT VM itself stays non-distributed (see phn_cnode_SUITE).
-module(phn_cnode_start_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-compile([export_all, nowarn_export_all]).

-define(COOKIE, "phn_start_cookie").

suite() -> [{timetrap, {minutes, 4}}].

all() ->
    [binary_missing,
     binary_not_executable,
     wrapper_missing,
     epmd_unreachable,
     name_taken_by_a_node,
     name_taken_by_a_running_cnode,
     name_taken_after_the_checks,
     cnode_exit_status_otherwise,
     starts_when_nothing_is_wrong,
     refused_strategy_raises].

init_per_suite(Config) ->
    case os:find_executable("epmd") of
        false -> {skip, "no epmd"};
        _ ->
            Port = phn_cluster:start(),
            [phn_cluster:start_peer(N, ?COOKIE) || N <- [s1, s2]],
            [{epmd_port, Port} | Config]
    end.

end_per_suite(_Config) ->
    phn_cluster:stop().

end_per_testcase(_Case, _Config) ->
    [catch on(N, phn_cnode, stop, []) || N <- [s1, s2]],
    ok.

on(Name, M, F, A) -> phn_cluster:on(Name, M, F, A).

%% start_link on the peer, from a process that traps exits (a start that fails inside
%% init ends the new server, which is linked) and keeps the server when it starts.
start(Name, Opts) -> on(Name, ?MODULE, start_here, [Opts]).

start_here(Opts) ->
    Parent = self(),
    spawn(fun() ->
                  process_flag(trap_exit, true),
                  R = phn_cnode:start_link(Opts),
                  case R of {ok, Pid} -> unlink(Pid); _ -> ok end,
                  Parent ! {started, R}
          end),
    receive {started, R} -> R after 60000 -> start_timeout end.

%%% Cases

binary_missing(_Config) ->
    Path = "/nonexistent/phn_cnode",
    ?assertEqual({error, {cnode_binary, Path, enoent}}, start(s1, #{executable => Path})).

binary_not_executable(Config) ->
    File = filename:join(?config(priv_dir, Config), "phn_cnode_not_exec"),
    ok = file:write_file(File, <<"#!/bin/sh\nexit 0\n">>),
    ok = file:change_mode(File, 8#644),
    ?assertEqual({error, {cnode_binary, File, eacces}}, start(s1, #{executable => File})),
    Dir = ?config(priv_dir, Config),
    ?assertEqual({error, {cnode_binary, Dir, not_regular}}, start(s1, #{executable => Dir})).

wrapper_missing(_Config) ->
    ?assertEqual({error, {cnode_wrapper, "phn_no_such_wrapper", enoent}},
                 start(s1, #{wrapper => "phn_no_such_wrapper --flag"})).

%% No epmd listens there: refused at once, with the port, instead of a C-node that retries.
epmd_unreachable(_Config) ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    ok = gen_tcp:close(L),
    ?assertMatch({error, {epmd_unreachable, #{port := Port, reason := econnrefused}}},
                 start(s1, #{epmd_port => Port})),
    ?assertEqual(undefined, on(s1, erlang, whereis, [phn_cnode])).

%% The peer's own name is registered with epmd: the C-node cannot publish it.
name_taken_by_a_node(_Config) ->
    ?assertEqual({error, {name_taken, 's1@127.0.0.1'}}, start(s1, #{name => s1})).

%% A real C-node holds the name: a second one (from another node) is refused with it.
name_taken_by_a_running_cnode(_Config) ->
    {ok, _} = start(s1, #{name => phn_start_shared}),
    CN = on(s1, phn_cnode, cnode, []),
    ?assertEqual('phn_start_shared@127.0.0.1', CN),
    ?assertEqual({error, {name_taken, CN}}, start(s2, #{name => phn_start_shared})),
    %% Once the first is gone the name is free again.
    ok = on(s1, phn_cnode, stop, []),
    {ok, _} = start(s2, #{name => phn_start_shared}),
    ?assertEqual(CN, on(s2, phn_cnode, cnode, [])).

%% The name is free when start_link checks it, then taken before the C-node publishes it
%% (a wrapper starts a squatter C-node with the same name first): the C-node exits, and
%% the check after the failed start names the cause.
name_taken_after_the_checks(Config) ->
    Dir = ?config(priv_dir, Config),
    PidFile = filename:join(Dir, "squatter.pid"),
    Wrapper = filename:join(Dir, "squat.sh"),
    ok = file:write_file(Wrapper, [
        "#!/bin/sh\n"
        "# $1: the C-node binary; then its arguments. Once: a squatter with the same name.\n"
        "exe=$1; shift\n"
        "if [ ! -e '", PidFile, "' ]; then\n"
        "  sleep 30 | PHN_CNODE_COOKIE=squat \"$exe\" \"$@\" >/dev/null 2>&1 &\n"
        "  echo $! > '", PidFile, "'\n"
        "  sleep 1\n"
        "fi\n"
        "exec \"$exe\" \"$@\"\n"]),
    ok = file:change_mode(Wrapper, 8#755),
    try
        ?assertEqual({error, {name_taken, 'phn_start_late@127.0.0.1'}},
                     start(s1, #{name => phn_start_late, wrapper => Wrapper}))
    after
        {ok, Pid} = file:read_file(PidFile),
        os:cmd("kill " ++ binary_to_list(string:trim(Pid)))
    end.

%% Nothing known is wrong but the C-node exits (here: a flag it does not know): its exit
%% status, after the retries.
cnode_exit_status_otherwise(_Config) ->
    ?assertEqual({error, {cnode_exit, 2}}, start(s1, #{args => #{no_such_flag => 1}})).

starts_when_nothing_is_wrong(_Config) ->
    {ok, _} = start(s1, #{}),
    ?assertEqual('phn_cnode_s1@127.0.0.1', on(s1, phn_cnode, cnode, [])),
    ?assertMatch({ok, #{}}, on(s1, phn_cnode, stats, [])).

%% A strategy only the C-node can judge (an unknown struct): set_hub/4 raises badarg
%% naming Strategy, as an argument error, not {error, badarg}.
refused_strategy_raises(_Config) ->
    {ok, _} = start(s1, #{}),
    Bad = #{'__struct__' => 'Elixir.No.Such.Strategy'},
    ?assertEqual({badarg, #{2 => "Strategy: a strategy the C-node cannot evaluate (unknown "
                                 "struct or bad field)"}},
                 on(s1, ?MODULE, raised, [phn_cnode, set_hub, [h, Bad, cluster, #{}]])),
    %% The C-node is fine and takes a good one.
    ?assertEqual({ok, false},
                 on(s1, phn_cnode, set_hub, [h, phn_partition:divergence(), cluster])).

raised(M, F, A) ->
    try apply(M, F, A) of
        V -> {returned, V}
    catch
        error:badarg:Stack -> {badarg, phn_errors:format_error(badarg, Stack)}
    end.
