%% The error convention (docs/errors.md): every public function of phn_cnode, phn_partition
%% and phn_rm_cnode given a bad argument raises `badarg' from its own frame, with an
%% error_info whose format_error/2 names the argument; the shell's rendering
%% (erl_error:format_exception/3) shows that text. phn_cnode's checks run before any call,
%% so no phn_cnode server is needed (and none runs here: a check that were missing would
%% show as an exit noproc instead).
-module(phn_errors_tests).

-include_lib("eunit/include/eunit.hrl").

-define(S, phn_partition:static_quorum(1)).

%% Fun raises badarg in Module:Function, and the text for argument Pos starts with Name.
raises(Fun, {Module, Function}, Pos, Name) ->
    try Fun() of
        V -> erlang:error({no_raise, Module, Function, Name, V})
    catch
        error:badarg:Stack ->
            [{M, F, _Args, _Info} | _] = Stack,
            ?assertEqual({Module, Function}, {M, F}),
            Texts = phn_errors:format_error(badarg, Stack),
            ?assertMatch(#{Pos := _}, Texts, {Module, Function, Name}),
            Text = maps:get(Pos, Texts),
            ?assert(lists:prefix(atom_to_list(Name) ++ ": ", Text)),
            Shell = lists:flatten(erl_error:format_exception(error, badarg, Stack)),
            ?assertNotEqual(nomatch, string:find(Shell, "argument " ++ integer_to_list(Pos)
                                                 ++ ": " ++ Text)),
            ok
    end.

cases_test_() ->
    Ref = make_ref(),
    Self = self(),
    [{lists:flatten(io_lib:format("~p:~p ~p", [M, F, Name])),
      fun() -> raises(Fun, {M, F}, Pos, Name) end}
     || {M, F, Pos, Name, Fun} <- cnode_cases(Ref, Self) ++ partition_cases() ++ rm_cnode_cases()].

cnode_cases(Ref, Self) ->
    C = phn_cnode,
    [{C, start_link, 1, 'Opts', fun() -> C:start_link(not_a_map) end},
     {C, start_link, 1, 'Opts', fun() -> C:start_link(#{timeout => 5}) end},
     {C, start_link, 1, 'Opts', fun() -> C:start_link(#{epmd_port => 0}) end},
     {C, start_link, 1, 'Opts', fun() -> C:start_link(#{cookie => 42}) end},
     {C, start_link, 1, 'Opts', fun() -> C:start_link(#{args => #{max_ops => {1}}}) end},
     {C, start_link, 1, 'Opts', fun() -> C:start_link(#{max_restarts => -1}) end},
     {C, register_operation, 1, 'TxRef', fun() -> C:register_operation(foo, h, [a@b], 1) end},
     {C, register_operation, 2, 'HubId', fun() -> C:register_operation(Ref, "h", [a@b], 1) end},
     {C, register_operation, 3, 'Expected', fun() -> C:register_operation(Ref, h, [], 1) end},
     {C, register_operation, 3, 'Expected',
      fun() -> C:register_operation(Ref, h, [a@b | c], 1) end},
     {C, register_operation, 3, 'Expected',
      fun() -> C:register_operation(Ref, h, [{a@b, 0}], 1) end},
     {C, register_operation, 4, 'TimeoutMs', fun() -> C:register_operation(Ref, h, [a], -1) end},
     %% Past what the C-node decodes (32-bit chunk counters, signed 64-bit timeouts).
     {C, register_operation, 3, 'Expected',
      fun() -> C:register_operation(Ref, h, [{a@b, 1 bsl 32}], 1) end},
     {C, register_operation, 4, 'TimeoutMs',
      fun() -> C:register_operation(Ref, h, [a], 1 bsl 63) end},
     {C, register_operation, 5, 'Notify',
      fun() -> C:register_operation(Ref, h, [a], 1, not_a_pid) end},
     {C, register_operation, 6, 'Opts',
      fun() -> C:register_operation(Ref, h, [a], 1, Self, #{deliver => bogus}) end},
     {C, register_operation, 6, 'Opts',
      fun() -> C:register_operation(Ref, h, [a], 1, Self, #{delivery => cast}) end},
     {C, register_operation, 6, 'Opts',
      fun() -> C:register_operation(Ref, h, [a], 1, Self, not_a_map) end},
     {C, cancel_operation, 1, 'TxRef', fun() -> C:cancel_operation(foo) end},
     {C, await_operation, 1, 'TxRef', fun() -> C:await_operation(foo, 0) end},
     {C, await_operation, 2, 'Timeout', fun() -> C:await_operation(Ref, -1) end},
     {C, set_hub, 1, 'HubId', fun() -> C:set_hub("h", ?S, cluster) end},
     {C, set_hub, 2, 'Strategy', fun() -> C:set_hub(h, #{}, cluster) end},
     {C, set_hub, 3, 'Nodes', fun() -> C:set_hub(h, ?S, [a | b]) end},
     {C, set_hub, 3, 'Nodes', fun() -> C:set_hub(h, ?S, everyone) end},
     {C, set_hub, 4, 'Opts', fun() -> C:set_hub(h, ?S, cluster, #{watch => yes}) end},
     {C, set_hub_nodes, 1, 'HubId', fun() -> C:set_hub_nodes(1, []) end},
     {C, set_hub_nodes, 2, 'Nodes', fun() -> C:set_hub_nodes(h, ["a"]) end},
     {C, remove_hub, 1, 'HubId', fun() -> C:remove_hub(<<"h">>) end},
     {C, hub_status, 1, 'HubId', fun() -> C:hub_status(<<"h">>) end},
     {C, is_partitioned, 1, 'HubId', fun() -> C:is_partitioned(<<"h">>) end},
     {C, subscribe, 1, 'HubId', fun() -> C:subscribe("h") end},
     {C, subscribe, 2, 'Pid', fun() -> C:subscribe(h, not_a_pid) end},
     {C, unsubscribe, 2, 'Pid', fun() -> C:unsubscribe(h, not_a_pid) end},
     {C, unsubscribe, 1, 'HubId', fun() -> C:unsubscribe("h", Self) end},
     {C, reset_cluster_size, 2, 'N', fun() -> C:reset_cluster_size(h, 0) end},
     {C, reset_cluster_size, 1, 'HubId', fun() -> C:reset_cluster_size("h", 1) end},
     {C, sync_quorum_log, 2, 'Log', fun() -> C:sync_quorum_log(h, [{a, x}]) end},
     {C, connect, 1, 'Node', fun() -> C:connect("a@b") end},
     {C, compose_sub_requests, 1, 'Op', fun() -> C:compose_sub_requests(not_a_map, a@b) end},
     {C, compose_sub_requests, 2, 'CNodeName', fun() -> C:compose_sub_requests(#{}, "a@b") end}].

partition_cases() ->
    P = phn_partition,
    Dyn = P:dynamic_quorum(50),
    [{P, init, 1, 'Strategy', fun() -> P:init(not_a_strategy, [a]) end},
     {P, init, 2, 'Nodes', fun() -> P:init(?S, [a | b]) end},
     {P, init, 3, 'State', fun() -> P:init(?S, [a], []) end},
     %% Refused by the C core, the argument found by asking it again.
     {P, init, 1, 'Strategy', fun() -> P:init(#{'__struct__' => nope}, [a]) end},
     {P, init, 1, 'Strategy', fun() -> P:init((?S)#{quorum_size => "3"}, [a]) end},
     {P, toggle_lock, 4, 'State',
      fun() -> P:toggle_lock(Dyn, [a], b, #{dynamic_quorum_down_nodes => [x]}) end},
     {P, toggle_unlock, 2, 'Nodes', fun() -> P:toggle_unlock(Dyn, [], n, #{}) end},
     {P, toggle_lock, 3, 'DownNode', fun() -> P:toggle_lock(?S, [a], "n", #{}, 1) end},
     {P, toggle_lock, 5, 'NowSeconds', fun() -> P:toggle_lock(?S, [a], n, #{}, 1.0) end},
     {P, toggle_unlock, 3, 'UpNode', fun() -> P:toggle_unlock(?S, [a], "n", #{}, 1) end},
     {P, toggle_unlock, 4, 'State', fun() -> P:toggle_unlock(?S, [a], n, nil) end},
     {P, has_quorum, 2, 'Nodes', fun() -> P:has_quorum(?S, not_a_list, #{}) end},
     {P, has_quorum, 3, 'State',
      fun() -> P:has_quorum(P:majority_quorum(), [a], #{majority_quorum_max_seen => 1.0}) end},
     {P, nodes_down, 3, 'DownNodes', fun() -> P:nodes_down(?S, [a], [b | c], #{}) end},
     {P, nodes_up, 1, 'Strategy', fun() -> P:nodes_up(#{}, [a], [b], #{}) end},
     {P, sync_quorum_log, 2, 'RemoteLog', fun() -> P:sync_quorum_log(#{}, not_a_log) end},
     {P, sync_quorum_log, 1, 'State', fun() -> P:sync_quorum_log(not_a_map, []) end},
     {P, sync_quorum_log, 1, 'State',
      fun() -> P:sync_quorum_log(#{dynamic_quorum_down_nodes => [x]}, [{a, 1}]) end},
     {P, reset_cluster_size, 2, 'N', fun() -> P:reset_cluster_size(#{}, 0) end},
     {P, reset_cluster_size, 1, 'State', fun() -> P:reset_cluster_size(nil, 3) end},
     {P, static_quorum, 1, 'Quorum', fun() -> P:static_quorum("3") end},
     {P, static_quorum, 2, 'StartupConfirm', fun() -> P:static_quorum(3, yes) end},
     {P, dynamic_quorum, 1, 'Quorum', fun() -> P:dynamic_quorum("50") end},
     {P, dynamic_quorum, 2, 'ThresholdSeconds', fun() -> P:dynamic_quorum(50, x) end},
     {P, majority_quorum, 1, 'Initial', fun() -> P:majority_quorum(1.5, true) end},
     {P, majority_quorum, 2, 'Track', fun() -> P:majority_quorum(1, 1) end}].

rm_cnode_cases() ->
    R = phn_rm_cnode,
    [{R, compose_sub_requests, 1, 'Op', fun() -> R:compose_sub_requests([]) end},
     {R, handle_report, 1, 'State', fun() -> R:handle_report(nil, make_ref(), {complete, []}) end}].

%% The texts themselves, as a user reads them.
texts_test() ->
    Text = fun(F) ->
               try F() catch error:badarg:St -> phn_errors:format_error(badarg, St) end
           end,
    ?assertEqual(#{1 => "TxRef: not a reference"},
                 Text(fun() -> phn_cnode:cancel_operation(foo) end)),
    ?assertEqual(#{6 => "Opts: option deliver: not one of message, cast"},
                 Text(fun() -> phn_cnode:register_operation(make_ref(), h, [a], 1, self(),
                                                            #{deliver => bogus}) end)),
    #{1 := Unknown} = Text(fun() -> phn_cnode:start_link(#{timeout => 5}) end),
    ?assertEqual("Opts: unknown option timeout (known: args, bind, cookie, epmd_port, executable, "
                 "max_restarts, name, wrapper)", Unknown).

%% A bad cookie is named, never shown: not in the text, not in the stack's arguments.
cookie_never_shown_test() ->
    Secret = [16#1F600, "secret_cookie" | x], % not a string: refused
    try phn_cnode:start_link(#{cookie => Secret}) of
        V -> erlang:error({no_raise, V})
    catch
        error:badarg:Stack ->
            Shell = lists:flatten(erl_error:format_exception(error, badarg, Stack)),
            ?assertEqual(nomatch, string:find(Shell, "secret_cookie")),
            ?assertNotEqual(nomatch, string:find(Shell, "option cookie")),
            ?assertEqual(nomatch, string:find(io_lib:format("~p", [Stack]), "secret_cookie"))
    end.

%% cancel_operation(foo) raised function_clause before the convention.
cancel_operation_is_badarg_not_function_clause_test() ->
    ?assertError(badarg, phn_cnode:cancel_operation(foo)).

%% Elixir renders the same error_info (ErlangError.normalize/2 calls format_error/2): its
%% ArgumentError message names the argument. Run only where elixir is installed.
elixir_message_test_() ->
    case os:find_executable("elixir") of
        false -> [];
        Elixir ->
            {timeout, 120,
             fun() ->
                 Ebin = filename:dirname(code:which(phn_errors)),
                 Script = "try do :phn_cnode.cancel_operation(:foo) rescue e -> "
                          "IO.write(Exception.message(e)) end",
                 Out = os:cmd(Elixir ++ " -pa " ++ Ebin ++ " -e '" ++ Script ++ "'"),
                 ?assertNotEqual(nomatch, string:find(Out, "1st argument: TxRef: not a reference"))
             end}
    end.

%% The checker's kinds at their edges.
check_test() ->
    ?assertEqual(ok, phn_errors:check([{a, expected}], [[n, {m, 2}]])),
    ?assertMatch(#{1 := {a, _}}, phn_errors:check([{a, expected}], [[{m, 2.0}]])),
    ?assertEqual(ok, phn_errors:check([{a, timeout}, {b, timeout}], [infinity, 0])),
    ?assertMatch(#{2 := {b, _}}, phn_errors:check([{a, any}, {b, port_number}], [x, 65536])),
    ?assertEqual(ok, phn_errors:check([{c, cookie}], [<<"c">>])),
    ?assertEqual(ok, phn_errors:check([{c, chardata}], [[<<"a">>, "b"]])),
    ?assertMatch(#{1 := _}, phn_errors:check([{c, chardata}], [[-1]])),
    ?assertEqual(#{}, phn_errors:format_error(badarg, [])),
    ?assertEqual(#{}, phn_errors:format_error(badarg, [{m, f, 0, []}])).
