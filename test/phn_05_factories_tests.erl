%% @doc REFERENCE.md §6.1 cases 19–22 (request_to_opts), 35–36 (with_partition_check),
%% 42–45 (new/4), 46–48 (compose_sub_requests), 49 (send_response), 50
%% (load_strategies), 51–52 (migration/contraction factories).
%% Every test runs against both implementations.
-module(phn_05_factories_tests).

-include("phn_test.hrl").

-import(phn_test_helpers, [struct_with/2, hub/0, delete_hub/1, members/1, recv/1, now_ms/0]).

-define(OP_FIELDS, [awaiter, completed_nodes, expires_at, future, handler, hub_id,
                    nodes_data, options, sub_requests, transaction_id]).

start_req(Fields) ->
    struct_with(?START_REQ:'__struct__'(), Fields).

%% Case 19: all routing fields set + options -> all five readable by key.
request_to_opts_all_fields_test_() ->
    ?FOR_MODS(fun(M) ->
        Req = start_req([{transaction_id, txn_123}, {hub_id, my_hub},
                         {originating_node, node()}, {reply_to, [self()]},
                         {options, [{disable_logging, true}]}]),
        Opts = M:request_to_opts(Req),
        ?assertEqual(txn_123, proplists:get_value(transaction_id, Opts)),
        ?assertEqual(my_hub, proplists:get_value(hub_id, Opts)),
        ?assertEqual(node(), proplists:get_value(originating_node, Opts)),
        ?assertEqual([self()], proplists:get_value(reply_to, Opts)),
        ?assertEqual(true, proplists:get_value(disable_logging, Opts)),
        %% exact order: reply_to, originating_node, hub_id, transaction_id | options
        ?assertEqual([{reply_to, [self()]}, {originating_node, node()}, {hub_id, my_hub},
                      {transaction_id, txn_123}, {disable_logging, true}], Opts)
    end).

%% Case 20: all four routing fields nil, options [] -> none of the four keys present.
request_to_opts_none_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertEqual([], M:request_to_opts(start_req([]))),
        %% false is skipped too, nil options become []
        ?assertEqual([], M:request_to_opts(start_req([{transaction_id, false},
                                                      {hub_id, false},
                                                      {originating_node, false},
                                                      {reply_to, false},
                                                      {options, nil}])))
    end).

%% Case 21: all fields set + options [{some_opt, true}] -> everything present.
request_to_opts_some_opt_test_() ->
    ?FOR_MODS(fun(M) ->
        Ref = make_ref(),
        Req = struct_with(?STOP_REQ:'__struct__'(),
                          [{transaction_id, Ref}, {hub_id, my_hub}, {originating_node, node()},
                           {reply_to, [self()]}, {options, [{some_opt, true}]}]),
        Opts = M:request_to_opts(Req),
        [?assert(lists:keymember(K, 1, Opts))
         || K <- [transaction_id, hub_id, originating_node, reply_to, some_opt]],
        ?assertEqual(5, length(Opts))
    end).

%% Case 22: tx/orig/reply_to nil, hub set -> only hub_id and some_opt; duplicates kept.
request_to_opts_hub_only_test_() ->
    ?FOR_MODS(fun(M) ->
        Req = start_req([{hub_id, my_hub}, {options, [{some_opt, true}, {hub_id, old}]}]),
        ?assertEqual([{hub_id, my_hub}, {some_opt, true}, {hub_id, old}],
                     M:request_to_opts(Req))
    end).

%% Case 35: "dist_sup" registered to a live pid -> Fun() runs.
with_partition_check_live_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = hub(),
        #{procs := #{system_registry := Reg}} = Hub,
        true = ets:insert(Reg, {<<"dist_sup">>, self()}),
        ?assertEqual(my_result, M:with_partition_check(Hub, fun() -> my_result end)),
        delete_hub(Hub)
    end).

%% Case 36: empty system registry -> {error, partitioned}, the function is not run;
%% a dead dist_sup is partitioned too.
with_partition_check_partitioned_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = hub(),
        Self = self(),
        Fun = fun() -> Self ! ran, my_result end,
        ?assertEqual({error, partitioned}, M:with_partition_check(Hub, Fun)),
        ?assertEqual(timeout, recv(20)),
        Dead = spawn(fun() -> ok end),
        MRef = monitor(process, Dead),
        receive {'DOWN', MRef, _, _, _} -> ok end,
        #{procs := #{system_registry := Reg}} = Hub,
        true = ets:insert(Reg, {<<"dist_sup">>, Dead}),
        ?assertEqual({error, partitioned}, M:with_partition_check(Hub, Fun)),
        ?assertEqual(timeout, recv(20)),
        delete_hub(Hub)
    end).

%% Case 42: new/4 with StartChildrenRequest.
new_start_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = #{hub_id => test_hub},
        ND = [{node(), [#{child_id => c1}]}],
        Op = M:new(Hub, ?START_REQ, ND, []),
        ?assertEqual(?RM, maps:get('__struct__', Op)),
        ?assertEqual(?OP_FIELDS, lists:sort(maps:keys(maps:remove('__struct__', Op)))),
        ?assertEqual(test_hub, maps:get(hub_id, Op)),
        ?assertEqual(?START_REQ, maps:get(handler, Op)),
        ?assertEqual(ND, maps:get(nodes_data, Op)),
        ?assert(is_reference(maps:get(transaction_id, Op))),
        ?assertEqual([], members(maps:get(completed_nodes, Op))),
        ?assertEqual(phn_rm_common:empty_mapset(), maps:get(completed_nodes, Op)),
        ?assertEqual([], maps:get(sub_requests, Op)),
        ?assertEqual(nil, maps:get(awaiter, Op)),
        ?assertEqual([], maps:get(options, Op)),
        ?assertEqual(#{'__struct__' => ?FUTURE, future_resolver => {test_hub, node()},
                       ref => maps:get(transaction_id, Op), timeout => 5000,
                       action => start},
                     maps:get(future, Op))
    end).

%% Case 43: StopChildrenRequest -> future.action == stop; other handlers -> unknown.
new_stop_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = #{hub_id => test_hub},
        Op = M:new(Hub, ?STOP_REQ, [], []),
        ?assertEqual(stop, maps:get(action, maps:get(future, Op))),
        ?assertEqual(unknown,
                     maps:get(action, maps:get(future, M:new(Hub, 'Elixir.Foo.Bar', [], [])))),
        ?assertEqual(start,
                     maps:get(action, maps:get(future,
                                               M:new(Hub, 'Elixir.X.StartChildrenRequest',
                                                     [], []))))
    end).

%% Case 44: request_timeout 30000 -> before+30000 =< expires_at =< after+30000;
%% default request timeout 600000; timeout option goes to the future.
new_request_timeout_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = #{hub_id => test_hub},
        Before = now_ms(),
        Op = M:new(Hub, ?START_REQ, [], [{request_timeout, 30000}, {timeout, 777}]),
        After = now_ms(),
        E = maps:get(expires_at, Op),
        ?assert(Before + 30000 =< E andalso E =< After + 30000),
        ?assertEqual(777, maps:get(timeout, maps:get(future, Op))),
        B2 = now_ms(),
        E2 = maps:get(expires_at, M:new(Hub, ?START_REQ, [], [])),
        A2 = now_ms(),
        ?assert(B2 + 600000 =< E2 andalso E2 =< A2 + 600000),
        %% first occurrence wins
        Op3 = M:new(Hub, ?START_REQ, [], [{timeout, 1}, {timeout, 2}]),
        ?assertEqual(1, maps:get(timeout, maps:get(future, Op3)))
    end).

%% Case 45: extra option my_opt kept in options (whole list unmodified).
new_keeps_options_test_() ->
    ?FOR_MODS(fun(M) ->
        Opts = [{my_opt, val}, {request_timeout, 1000}, {timeout, 10}],
        Op = M:new(#{hub_id => test_hub, other => x}, ?START_REQ, [], Opts),
        ?assertEqual(Opts, maps:get(options, Op)),
        ?assertEqual(val, proplists:get_value(my_opt, maps:get(options, Op)))
    end).

%% new/4 bad input raises.
new_bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = #{hub_id => test_hub},
        ?assertError(badarg, M:new(Hub, not_elixir, [], [])),
        ?assertError(_, M:new(Hub, "Elixir.Foo", [], [])),
        ?assertError(_, M:new(Hub, ?START_REQ, [], not_a_list)),
        ?assertError(_, M:new(Hub, ?START_REQ, [], [{timeout, 1} | bad])),
        ?assertError(_, M:new(Hub, ?START_REQ, [], [{request_timeout, infinity}])),
        ?assertError(_, M:new(#{}, ?START_REQ, [], [])),
        ?assertError(_, M:new(not_a_map, ?START_REQ, [], []))
    end).

%% Case 46: nodes_data [] -> {error, no_children}.
compose_empty_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = M:new(#{hub_id => test_hub}, ?START_REQ, [], []),
        ?assertEqual({error, no_children}, M:compose_sub_requests(Op))
    end).

%% Case 47: one node -> one sub-request with node == node().
compose_one_node_test_() ->
    ?FOR_MODS(fun(M) ->
        Children = [#{child_id => c1}],
        Op = M:new(#{hub_id => test_hub}, ?START_REQ, [{node(), Children}],
                   [{request_signature, 42}, {reply_to, [self()]}]),
        {ok, Op1} = M:compose_sub_requests(Op),
        [SR] = maps:get(sub_requests, Op1),
        ?assertEqual(node(), maps:get(node, SR)),
        ?assertEqual(Children, maps:get(children, SR)),
        ?assertEqual(maps:get(transaction_id, Op), maps:get(transaction_id, SR)),
        ?assertEqual({42, [self()], dispatched, [{request_signature, 42}]},
                     {maps:get(request_signature, SR), maps:get(reply_to, SR),
                      maps:get(status, SR), maps:get(options, SR)}),
        ?assertEqual(maps:remove(sub_requests, Op), maps:remove(sub_requests, Op1))
    end).

%% Case 48: two nodes -> two sub-requests in order; duplicates kept.
compose_two_nodes_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = M:new(#{hub_id => test_hub}, ?STOP_REQ, [{node1, [c1]}, {node2, [c2]}], []),
        {ok, Op1} = M:compose_sub_requests(Op),
        SRs = maps:get(sub_requests, Op1),
        ?assertEqual([node1, node2], [maps:get(node, S) || S <- SRs]),
        ?assertEqual([[c1], [c2]], [maps:get(children, S) || S <- SRs]),
        [?assertEqual(?STOP_REQ, maps:get('__struct__', S)) || S <- SRs],
        OpDup = M:new(#{hub_id => test_hub}, ?STOP_REQ, [{n, [a]}, {n, [b]}], []),
        {ok, OpDup1} = M:compose_sub_requests(OpDup),
        ?assertEqual(2, length(maps:get(sub_requests, OpDup1)))
    end).

%% compose_sub_requests bad input: needs the struct, a list of 2-tuples.
compose_bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = M:new(#{hub_id => test_hub}, ?START_REQ, [], []),
        ?assertError(_, M:compose_sub_requests(Op#{nodes_data := nil})),
        ?assertError(_, M:compose_sub_requests(Op#{nodes_data := [not_a_tuple]})),
        ?assertError(_, M:compose_sub_requests(#{nodes_data => [], handler => ?START_REQ})),
        ?assertError(_, M:compose_sub_requests(not_a_map))
    end).

%% Case 49: send_response skips without hub_id, transaction_id, or both.
send_response_skip_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertEqual(skip, M:send_response(operation_response,
                                           [{transaction_id, make_ref()},
                                            {originating_node, node()}], [])),
        ?assertEqual(skip, M:send_response(operation_response,
                                           [{hub_id, phn_test_hub},
                                            {originating_node, node()}], [])),
        ?assertEqual(skip, M:send_response(operation_response,
                                           [{originating_node, node()}], [])),
        ?assertEqual(skip, M:send_response(operation_response,
                                           [{hub_id, phn_test_hub},
                                            {transaction_id, make_ref()}], [])),
        ?assertEqual(skip, M:send_response(operation_response,
                                           [{hub_id, false}, {transaction_id, make_ref()},
                                            {originating_node, node()}], [])),
        ?assertEqual(skip, M:send_response(operation_response, [], []))
    end).

%% Case 49 (positive): {'$gen_cast', {Type, Tx, node(), Results}} to {HubId, Origin};
%% ok even when nothing is registered; first occurrence wins.
send_response_sends_test_() ->
    ?FOR_MODS(fun(M) ->
        Name = list_to_atom("phn_test_hub_" ++ atom_to_list(M)),
        true = register(Name, self()),
        Ref = make_ref(),
        Opts = [{hub_id, Name}, {transaction_id, Ref}, {originating_node, node()},
                {hub_id, other}],
        ?assertEqual(ok, M:send_response(operation_response, Opts, [{c1, ok}])),
        ?assertEqual({'$gen_cast', {operation_response, Ref, node(), [{c1, ok}]}}, recv(1000)),
        unregister(Name),
        ?assertEqual(ok, M:send_response(operation_response, Opts, [])),
        ?assertEqual(timeout, recv(20))
    end).

send_response_bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertError(_, M:send_response(operation_response, not_a_list, [])),
        ?assertError(_, M:send_response(operation_response, [{hub_id, x} | y], []))
    end).

%% Case 50: keys exactly sync, dist, redun, migr, each the stored strategy.
load_strategies_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = hub(),
        ?assertEqual(#{sync => {sync_strategy, pubsub},
                       dist => {dist_strategy, consistent_hashing},
                       redun => {redun_strategy, 1},
                       migr => {migr_strategy, cold_swap}},
                     M:load_strategies(Hub)),
        #{storage := #{misc := Misc}} = Hub,
        true = ets:delete(Misc, migration_strategy),
        ?assertEqual(nil, maps:get(migr, M:load_strategies(Hub))),
        delete_hub(Hub),
        ?assertError(_, M:load_strategies(#{})),
        ?assertError(_, M:load_strategies(not_a_map))
    end).

%% Case 51: migration_request.
migration_request_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = hub(),
        Spec = #{id => migr_child, start => {m, f, []}},
        Req = M:migration_request(Hub, target_node, [{Spec, #{some => meta}}]),
        ?assertEqual(?START_REQ, maps:get('__struct__', Req)),
        ?assertEqual(lists:sort(maps:keys(?START_REQ:'__struct__'())),
                     lists:sort(maps:keys(Req))),
        ?assertEqual(test_hub, maps:get(hub_id, Req)),
        ?assertEqual(nil, maps:get(originating_node, Req)),
        ?assertEqual(nil, maps:get(reply_to, Req)),
        ?assertEqual(target_node, maps:get(node, Req)),
        ?assertEqual(pending, maps:get(status, Req)),
        ?assertEqual(nil, maps:get(results, Req)),
        ?assert(is_reference(maps:get(transaction_id, Req))),
        ?assertNotEqual(nil, maps:get(request_signature, Req)),
        ?assertEqual([#{child_id => migr_child, child_spec => Spec, metadata => #{some => meta},
                        nodes => [target_node], migration => true}],
                     maps:get(children, Req)),
        ?assertEqual([], maps:get(options, Req)),
        ?assertEqual(nil, maps:get(post_action, Req)),
        Req4 = M:migration_request(Hub, t2, [{Spec, #{}}],
                                   [{post_action, pa}, {x, 1}, {post_action, pb}]),
        ?assertEqual({[{x, 1}], pa}, {maps:get(options, Req4), maps:get(post_action, Req4)}),
        ?assertError(_, M:migration_request(Hub, t, [not_a_pair])),
        ?assertError(_, M:migration_request(Hub, t, [{#{no_id => 1}, #{}}])),
        ?assertError(_, M:migration_request(Hub, t, [], not_a_list)),
        delete_hub(Hub)
    end).

%% Case 52: contraction_request -> same shape with node == node(), options unfiltered.
contraction_request_test_() ->
    ?FOR_MODS(fun(M) ->
        Hub = hub(),
        Spec = #{id => c_child},
        Req = M:contraction_request(Hub, [{Spec, #{}}]),
        ?assertEqual(?START_REQ, maps:get('__struct__', Req)),
        ?assertEqual(test_hub, maps:get(hub_id, Req)),
        ?assertEqual(node(), maps:get(node, Req)),
        ?assertEqual(nil, maps:get(originating_node, Req)),
        ?assertNotEqual(nil, maps:get(request_signature, Req)),
        ?assertEqual([#{child_id => c_child, child_spec => Spec, metadata => #{},
                        nodes => [node()], migration => true}], maps:get(children, Req)),
        ?assertEqual([{migration_add, true}], maps:get(options, Req)),
        ?assertEqual(nil, maps:get(post_action, Req)),
        Req3 = M:contraction_request(Hub, [], [{post_action, pa}]),
        ?assertEqual({[{post_action, pa}], nil, []},
                     {maps:get(options, Req3), maps:get(post_action, Req3),
                      maps:get(children, Req3)}),
        delete_hub(Hub)
    end).

%% empty_mapset: new/4's completed_nodes is MapSet.new() when Elixir is loadable, else
%% the Elixir 1.14 layout.
empty_mapset_test_() ->
    ?FOR_MODS(fun(M) ->
        Expected = case code:ensure_loaded(?MAPSET) of
                       {module, _} -> ?MAPSET:new();
                       _ -> #{'__struct__' => ?MAPSET, map => #{}, version => 2}
                   end,
        ?assertEqual(Expected, phn_rm_common:empty_mapset()),
        ?assertEqual(Expected,
                     maps:get(completed_nodes, M:new(#{hub_id => h}, ?START_REQ, [], [])))
    end).
