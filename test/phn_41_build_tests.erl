%% EUnit: what c_src/Makefile does, read from `make -n -B' (every command of a full
%% build, none run) into scratch OBJ/PRIV directories: erl booted once per build (not once
%% per object), none under rebar3 (its hook environment has the paths), the NIF linked
%% for Darwin's linker there, and outputs only under OBJ and PRIV.
-module(phn_41_build_tests).

-include_lib("eunit/include/eunit.hrl").

%% The variables rebar3 gives its hooks, and an outer make's flags: unset for a plain run.
-define(CLEAN_ENV, "env -u ERLANG_ROOT_DIR -u ERLANG_ERTS_VER -u ERLANG_LIB_DIR_erl_interface"
                   " -u MAKEFLAGS -u MFLAGS -u MAKELEVEL").

c_src() ->
    Source = proplists:get_value(source, ?MODULE:module_info(compile)),
    filename:join(filename:dirname(filename:dirname(Source)), "c_src").

%% A scratch directory with an erl that counts its boots in Dir/boots.
with_counting_erl(Fun) ->
    Dir = filename:join(os:getenv("TMPDIR", "/tmp"),
                        "phn_41_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Erl = filename:join(Dir, "erl"),
    ok = filelib:ensure_dir(Erl),
    ok = file:write_file(Erl, ["#!/bin/sh\necho boot >> '", Dir, "/boots'\nexec '",
                               os:find_executable("erl"), "' \"$@\"\n"]),
    ok = file:change_mode(Erl, 8#755),
    try
        Fun(Dir, Erl)
    after
        file:del_dir_r(Dir)
    end.

%% A generator's test: make boots erl at least once, which a loaded machine may slow.
slow(Title, Fun) -> {Title, {timeout, 60, fun() -> with_counting_erl(Fun) end}}.

boots(Dir) ->
    case file:read_file(filename:join(Dir, "boots")) of
        {ok, B} -> length(binary:split(B, <<"\n">>, [global, trim_all]));
        {error, enoent} -> 0
    end.

%% `make -n -B' of Goals, with Env before it and Vars after; its output lines.
dry_run(Env, Dir, Erl, Vars, Goals) ->
    Cmd = lists:flatten([Env, " make -n -B -C '", c_src(), "' ERL='", Erl, "' OBJ='", Dir,
                         "/obj' PRIV='", Dir, "/priv' ", Vars, " ", Goals, " 2>&1; echo rc=$?"]),
    Lines = string:split(os:cmd(Cmd), "\n", all),
    ?assert(lists:member("rc=0", Lines)),
    Lines.

one_erl_boot_per_build_test_() ->
    slow("one erl boot per build", fun(Dir, Erl) ->
        Lines = dry_run(?CLEAN_ENV, Dir, Erl, "", "all tests"),
        ?assert(length([L || L <- Lines, string:find(L, " -c ") =/= nomatch]) > 30),
        ?assertEqual(1, boots(Dir))
    end).

no_erl_boot_under_rebar3_test_() ->
    slow("no erl boot under rebar3", fun(Dir, Erl) ->
        Include = filename:join([code:root_dir(), "erts-" ++ erlang:system_info(version),
                                 "include"]),
        Env = io_lib:format("~s ERLANG_ROOT_DIR='~s' ERLANG_ERTS_VER='~s' "
                            "ERLANG_LIB_DIR_erl_interface='~s'",
                            [?CLEAN_ENV, code:root_dir(), erlang:system_info(version),
                             code:lib_dir(erl_interface)]),
        Lines = dry_run(Env, Dir, Erl, "", "all tests"),
        ?assertEqual(0, boots(Dir)),
        ?assertNotEqual([], [L || L <- Lines, string:find(L, "-I" ++ Include) =/= nomatch])
    end).

darwin_nif_link_flags_test_() ->
    slow("darwin nif link flags", fun(Dir, Erl) ->
        Link = fun(Os) ->
                   [L || L <- dry_run(?CLEAN_ENV, Dir, Erl, "UNAME_S=" ++ Os, "nif"),
                         string:find(L, "-shared") =/= nomatch]
               end,
        [Darwin] = Link("Darwin"),
        ?assertNotEqual(nomatch, string:find(Darwin, "-undefined dynamic_lookup")),
        [Linux] = Link("Linux"),
        ?assertEqual(nomatch, string:find(Linux, "-undefined"))
    end).

outputs_only_under_obj_and_priv_test_() ->
    slow("outputs only under obj and priv", fun(Dir, Erl) ->
        Lines = dry_run(?CLEAN_ENV, Dir, Erl, "", "all tests"),
        Outputs = [Out || L <- Lines, [_, Rest] <- [string:split(L, " -o ")],
                          Out <- [hd(string:split(Rest, " "))]],
        ?assert(length(Outputs) > 30),
        ?assertEqual([], [O || O <- Outputs,
                               not lists:prefix(Dir ++ "/obj/", O),
                               not lists:prefix(Dir ++ "/priv/", O)])
    end).

%% Without OBJ, objects go to the checkout's _build/c_src, not into c_src/.
default_objects_outside_c_src_test() ->
    Cmd = lists:flatten([?CLEAN_ENV, " make -n -B -C '", c_src(), "' ERTS_INCLUDE=/x EI_DIR=/y",
                         " nif 2>&1"]),
    Outputs = [hd(string:split(Rest, " ")) || L <- string:split(os:cmd(Cmd), "\n", all),
                                             [_, Rest] <- [string:split(L, " -o ")]],
    ?assertNotEqual([], Outputs),
    ?assertEqual([], [O || O <- Outputs,
                           not lists:prefix("../_build/c_src/", O),
                           O =/= "../priv/phn_nif.so"]).
