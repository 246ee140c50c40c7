%% EUnit: what a hex package of this project would ship. The hex plugin is not installed
%% (hex.pm is not reachable), so this computes `rebar3 hex build''s file list from the
%% .app.src as rebar3_hex does: `files' (globs; a directory stands for every file under
%% it, and hex's default list when `files' is absent), plus `include_paths', less
%% `exclude_paths', less paths matching an `exclude_patterns' regex. It then checks that
%% list: sources only, and every source the build needs; and the package metadata.
-module(phn_40_package_tests).

-include_lib("eunit/include/eunit.hrl").
-include_lib("kernel/include/file.hrl").

%% For a look by hand: erl -pa _build/test/lib/process_hub_native/test
%%   -eval 'io:format("~p~n", [phn_40_package_tests:shipped()]), halt().'
-export([shipped/0]).

-define(APP_SRC, "erl_src/process_hub_native.app.src").
%% rebar3_hex's list when the .app.src has no `files'.
-define(HEX_DEFAULT_FILES, ["src", "c_src", "include", "rebar.config.script", "priv",
                            "rebar.config", "rebar.lock", "README*", "readme*", "LICENSE*",
                            "license*", "NOTICE"]).
%% Directories of tests, test data, benchmarks, tools and build output: none ships.
-define(NOT_SHIPPED_DIRS, ["test", "bench", "priv", "doc", "scripts", "deps", ".ci"]).

%%% The selection

%% The checkout's root: this module's source is test/phn_40_package_tests.erl.
root() ->
    Source = proplists:get_value(source, ?MODULE:module_info(compile)),
    filename:dirname(filename:dirname(Source)).

app_props(Root) ->
    {ok, [{application, process_hub_native, Props}]} =
        file:consult(filename:join(Root, ?APP_SRC)),
    Props.

shipped() ->
    Root = root(),
    shipped(Root, app_props(Root)).

shipped(Root, Props) ->
    Globs = proplists:get_value(files, Props, ?HEX_DEFAULT_FILES)
        ++ proplists:get_value(include_paths, Props, []),
    Excluded = expand(Root, proplists:get_value(exclude_paths, Props, [])),
    Patterns = proplists:get_value(exclude_patterns, Props, []),
    lists:usort([F || F <- expand(Root, Globs),
                      not lists:member(F, Excluded),
                      not lists:any(fun(P) -> re:run(F, P, [{capture, none}]) =:= match end,
                                    Patterns)]).

expand(Root, Globs) ->
    lists:append([expand_path(Root, P) || G <- Globs, P <- filelib:wildcard(G, Root)]).

expand_path(Root, Path) ->
    case filelib:is_dir(filename:join(Root, Path)) of
        true -> [F || F <- filelib:wildcard(Path ++ "/**", Root), regular(Root, F)];
        false -> [Path || regular(Root, Path)]
    end.

regular(Root, F) -> filelib:is_regular(filename:join(Root, F)).

%%% What may not ship, and what must

%% Why a file is not a source: an executable, under a directory of tests, test data or
%% build output, or a binary (NUL bytes, a build output's extension).
not_source(Root, F) ->
    Path = filename:join(Root, F),
    {ok, #file_info{mode = Mode}} = file:read_file_info(Path),
    Dirs = lists:droplast(filename:split(F)),
    InTestOrBuildDir = Dirs =/= [] andalso (lists:member(hd(Dirs), ?NOT_SHIPPED_DIRS)
                                            orelse lists:any(fun build_dir/1, Dirs)),
    if
        Mode band 8#111 =/= 0 -> {F, executable};
        InTestOrBuildDir -> {F, not_a_source_dir};
        true -> {ok, Bytes} = file:read_file(Path), content_reason(F, Bytes)
    end.

content_reason(F, Bytes) ->
    BuildExt = lists:member(filename:extension(F), [".so", ".o", ".a", ".beam", ".dylib", ".d"]),
    case binary:match(Bytes, <<0>>) of
        _ when BuildExt -> {F, build_output};
        nomatch -> ok;
        _ -> {F, binary}
    end.

build_dir(Part) ->
    lists:prefix("_obj", Part) orelse lists:prefix("_build", Part)
        orelse Part =:= "corpus".

%% Every source the build of the app needs: the Erlang sources and the .app.src, the C
%% sources and headers with their Makefile, rebar.config; and, once the project has a Mix
%% face, mix.exs and lib/.
needed(Root) ->
    Erl = filelib:wildcard("erl_src/*.{erl,hrl,app.src}", Root),
    C = [F || F <- filelib:wildcard("c_src/**/*.{c,h}", Root),
              not lists:any(fun build_dir/1, filename:split(F))],
    Mix = case regular(Root, "mix.exs") of
              true -> ["mix.exs" | filelib:wildcard("lib/**/*.{ex,exs,erl}", Root)];
              false -> []
          end,
    %% The README links to docs/*.md: they ship with it.
    Docs = filelib:wildcard("docs/*.md", Root),
    ["c_src/Makefile", "rebar.config", "LICENSE", "README.md"] ++ Erl ++ C ++ Mix ++ Docs.

%%% Tests

ships_sources_only_test() ->
    Root = root(),
    Shipped = shipped(Root, app_props(Root)),
    ?assertNotEqual([], Shipped),
    ?assertEqual([], [R || F <- Shipped, (R = not_source(Root, F)) =/= ok]).

ships_every_source_the_build_needs_test() ->
    Root = root(),
    Shipped = shipped(Root, app_props(Root)),
    Needed = needed(Root),
    ?assert(length(Needed) > 20),
    ?assertEqual([], Needed -- Shipped).

%% The plain-Erlang oracle is a test module: not in the package, and no shipped module
%% names it (so none can call it, directly or by apply).
oracle_not_shipped_test() ->
    Root = root(),
    Shipped = shipped(Root, app_props(Root)),
    ?assertEqual([], [F || F <- Shipped, filename:basename(F) =:= "phn_request_manager_erl.erl"]),
    Mods = [list_to_atom(filename:basename(F, ".erl"))
            || F <- filelib:wildcard("erl_src/*.erl", Root)],
    ?assertNot(lists:member(phn_request_manager_erl, Mods)),
    Naming = [M || M <- Mods,
                   begin
                       {ok, {M, [{atoms, Atoms}]}} = beam_lib:chunks(code:which(M), [atoms]),
                       lists:keymember(phn_request_manager_erl, 2, Atoms)
                   end],
    ?assertEqual([], Naming).

metadata_test() ->
    Root = root(),
    Props = app_props(Root),
    Description = proplists:get_value(description, Props),
    ?assert(is_list(Description) andalso length(Description) > 10),
    ?assertMatch({match, _}, re:run(proplists:get_value(vsn, Props), "^[0-9]+\\.[0-9]+\\.[0-9]+")),
    ?assertEqual(["MIT"], proplists:get_value(licenses, Props)),
    {ok, License} = file:read_file(filename:join(Root, "LICENSE")),
    ?assertMatch(<<"MIT License", _/binary>>, License),
    Links = proplists:get_value(links, Props, []),
    ?assertNotEqual([], Links),
    ?assertEqual([], [L || {_, Url} = L <- Links, not lists:prefix("https://", Url)]),
    {ok, Config} = file:consult(filename:join(Root, "rebar.config")),
    ?assertEqual("25", proplists:get_value(minimum_otp_vsn, Config)).

%% The checks themselves catch what they are for: in a scratch tree, hex's default list
%% would ship a built NIF and a stray object, and miss erl_src/.
checks_catch_binaries_test() ->
    Dir = filename:join(os:getenv("TMPDIR", "/tmp"),
                        "phn_40_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Files = [{"priv/phn_nif.so", <<127, "ELF", 0, 1>>},
             {"c_src/_obj/core/x.o", <<"o">>},
             {"c_src/core/x.c", <<"int x;\n">>},
             {"erl_src/m.erl", <<"-module(m).\n">>}],
    try
        [ok = filelib:ensure_dir(filename:join(Dir, F)) || {F, _} <- Files],
        [ok = file:write_file(filename:join(Dir, F), B) || {F, B} <- Files],
        Shipped = shipped(Dir, []),
        ?assertEqual(["c_src/_obj/core/x.o", "c_src/core/x.c", "priv/phn_nif.so"], Shipped),
        ?assertEqual([{"c_src/_obj/core/x.o", not_a_source_dir},
                      {"priv/phn_nif.so", not_a_source_dir}],
                     [R || F <- Shipped, (R = not_source(Dir, F)) =/= ok]),
        ?assertEqual({"bin/x", binary}, content_reason("bin/x", <<127, "ELF", 0>>)),
        ?assertEqual({"x.so", build_output}, content_reason("x.so", <<"text">>)),
        ?assertEqual(["erl_src/m.erl"], ["erl_src/m.erl"] -- Shipped)
    after
        file:del_dir_r(Dir)
    end.
