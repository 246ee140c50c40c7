%% @doc REFERENCE.md §6.1 cases 8–13: all_responded?, set_awaiter, record_response,
%% process_response. Every test runs against both implementations.
-module(phn_02_tracking_tests).

-include("phn_test.hrl").

-import(phn_test_helpers, [make_operation/1, sub_request/4, mapset/1, members/1]).

%% Case 8: set equality of nodes_data keys and completed_nodes (plain maps).
all_responded_test_() ->
    ?FOR_MODS(fun(M) ->
        ND = [{node1, []}, {node2, []}],
        ?assert(M:'all_responded?'(#{nodes_data => ND,
                                     completed_nodes => mapset([node1, node2])})),
        ?assertNot(M:'all_responded?'(#{nodes_data => ND,
                                        completed_nodes => mapset([node1])})),
        ?assert(M:'all_responded?'(#{nodes_data => [], completed_nodes => mapset([])}))
    end).

%% Case 8 (quirks): an unexpected node makes the sets unequal; duplicate keys collapse.
all_responded_quirks_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertNot(M:'all_responded?'(#{nodes_data => [{node1, []}],
                                        completed_nodes => mapset([node1, stranger])})),
        ?assertNot(M:'all_responded?'(#{nodes_data => [],
                                        completed_nodes => mapset([stranger])})),
        ?assert(M:'all_responded?'(#{nodes_data => [{node1, [a]}, {node1, [b]}],
                                     completed_nodes => mapset([node1])})),
        ?assertNot(M:'all_responded?'(#{nodes_data => [{node1, []}, {node2, []}],
                                        completed_nodes => mapset([node1, node3])})),
        %% works on the full struct too
        ?assert(M:'all_responded?'(make_operation(#{completed_nodes => [node()]})))
    end).

%% Case 9: set_awaiter -> awaiter == From.
set_awaiter_test_() ->
    ?FOR_MODS(fun(M) ->
        From = {self(), make_ref()},
        Op = M:set_awaiter(make_operation(#{}), From),
        ?assertEqual(From, maps:get(awaiter, Op)),
        ?assertEqual(From, maps:get(awaiter, M:set_awaiter(#{awaiter => nil}, From)))
    end).

%% Case 10: record_response on a plain map with one dispatched sub-request.
record_response_plain_map_test_() ->
    ?FOR_MODS(fun(M) ->
        Pid = self(),
        Map = #{sub_requests => [sub_request(node1, nil, dispatched, [])],
                completed_nodes => mapset([])},
        Results = [{child1, {ok, Pid}}],
        #{sub_requests := [SR], completed_nodes := C} =
            M:record_response(Map, node1, Results, results),
        ?assertEqual([node1], members(C)),
        ?assertEqual(Results, maps:get(results, SR)),
        ?assertEqual(completed, maps:get(status, SR))
    end).

%% Case 11: two sub-requests, a response from node1 -> only the first is updated.
record_response_two_nodes_test_() ->
    ?FOR_MODS(fun(M) ->
        Map = #{sub_requests => [sub_request(node1, nil, dispatched, []),
                                 sub_request(node2, nil, dispatched, [])],
                completed_nodes => mapset([])},
        #{sub_requests := [SR1, SR2], completed_nodes := C} =
            M:record_response(Map, node1, [result], results),
        ?assertEqual([result], maps:get(results, SR1)),
        ?assertEqual(nil, maps:get(results, SR2)),
        ?assertEqual(dispatched, maps:get(status, SR2)),
        ?assertEqual([node1], members(C))
    end).

%% Case 10/11 (details): every matching sub-request is updated, later responses
%% overwrite, an unmatched node is still recorded, any Field is put, order is kept.
record_response_details_test_() ->
    ?FOR_MODS(fun(M) ->
        Map = #{sub_requests => [sub_request(n1, nil, dispatched, [a]),
                                 sub_request(n2, nil, dispatched, [b]),
                                 sub_request(n1, nil, dispatched, [c])],
                completed_nodes => mapset([]),
                other => kept},
        R1 = M:record_response(Map, n1, first, results),
        R2 = M:record_response(R1, n1, second, results),
        #{sub_requests := [A, B, C]} = R2,
        ?assertEqual({second, completed, [a]},
                     {maps:get(results, A), maps:get(status, A), maps:get(children, A)}),
        ?assertEqual({nil, dispatched, [b]},
                     {maps:get(results, B), maps:get(status, B), maps:get(children, B)}),
        ?assertEqual({second, completed, [c]},
                     {maps:get(results, C), maps:get(status, C), maps:get(children, C)}),
        ?assertEqual([n1], members(maps:get(completed_nodes, R2))),
        ?assertEqual(kept, maps:get(other, R2)),
        R3 = M:record_response(R2, stranger, x, results),
        ?assertEqual(maps:get(sub_requests, R2), maps:get(sub_requests, R3)),
        ?assertEqual([n1, stranger], members(maps:get(completed_nodes, R3))),
        #{sub_requests := [D | _]} = M:record_response(Map, n1, v, custom_field),
        ?assertEqual({v, completed, nil},
                     {maps:get(custom_field, D), maps:get(status, D), maps:get(results, D)}),
        Empty = #{sub_requests => [], completed_nodes => mapset([])},
        ?assertEqual([x], members(maps:get(completed_nodes,
                                           M:record_response(Empty, x, r, results))))
    end).

%% Case 12: single-node op, one SR for node() -> {complete, Op'} with node() completed.
process_response_complete_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(#{nodes_data => [{node(), []}],
                              sub_requests => [sub_request(node(), nil, dispatched, [])]}),
        Results = [{child1, {ok, self()}}],
        {complete, Op1} = M:process_response(Op, node(), Results),
        ?assertEqual([node()], members(maps:get(completed_nodes, Op1))),
        [SR] = maps:get(sub_requests, Op1),
        ?assertEqual({Results, completed}, {maps:get(results, SR), maps:get(status, SR)}),
        ?assertEqual(maps:get(transaction_id, Op), maps:get(transaction_id, Op1))
    end).

%% Case 13: two-node op, response from node1 -> {pending, Op'}; node1 in, node2 not.
process_response_pending_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(#{nodes_data => [{node1, []}, {node2, []}],
                              sub_requests => [sub_request(node1, nil, dispatched, []),
                                               sub_request(node2, nil, dispatched, [])]}),
        {pending, Op1} = M:process_response(Op, node1, [r1]),
        C = maps:get(completed_nodes, Op1),
        ?assert(phn_rm_common:'mapset_member?'(C, node1)),
        ?assertNot(phn_rm_common:'mapset_member?'(C, node2)),
        {complete, Op2} = M:process_response(Op1, node2, [r2]),
        ?assertEqual([node1, node2], members(maps:get(completed_nodes, Op2)))
    end).

%% Case 13 (quirk): a response from an unexpected node keeps the op pending forever.
process_response_stranger_test_() ->
    ?FOR_MODS(fun(M) ->
        Op = make_operation(#{nodes_data => [{node1, []}],
                              sub_requests => [sub_request(node1, nil, dispatched, [])]}),
        {pending, Op1} = M:process_response(Op, stranger, [x]),
        ?assertMatch({pending, _}, M:process_response(Op1, node1, [y]))
    end).

%% Bad input raises.
bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        MS = mapset([]),
        ?assertError(_, M:'all_responded?'(not_a_map)),
        ?assertError(_, M:'all_responded?'(#{nodes_data => []})),
        ?assertError(_, M:'all_responded?'(#{completed_nodes => MS})),
        ?assertError(_, M:'all_responded?'(#{nodes_data => [], completed_nodes => []})),
        ?assertError(_, M:'all_responded?'(#{nodes_data => [], completed_nodes => #{}})),
        ?assertError(_, M:'all_responded?'(#{nodes_data => [not_a_tuple],
                                             completed_nodes => MS})),
        ?assertError(_, M:'all_responded?'(#{nodes_data => [{a, []} | improper],
                                             completed_nodes => MS})),
        ?assertError(_, M:'all_responded?'(#{nodes_data => nil, completed_nodes => MS})),
        ?assertError(_, M:set_awaiter(#{}, {self(), ref})),
        ?assertError(_, M:set_awaiter(not_a_map, {self(), ref})),
        ?assertError(_, M:record_response(not_a_map, n, r, results)),
        ?assertError(_, M:record_response(#{sub_requests => []}, n, r, results)),
        ?assertError(_, M:record_response(#{completed_nodes => MS}, n, r, results)),
        ?assertError(_, M:record_response(#{sub_requests => [], completed_nodes => [n]},
                                          n, r, results)),
        ?assertError(_, M:record_response(#{sub_requests => nil, completed_nodes => MS},
                                          n, r, results)),
        ?assertError(_, M:record_response(#{sub_requests => [not_a_map],
                                            completed_nodes => MS}, n, r, results)),
        ?assertError(_, M:record_response(#{sub_requests => [#{no_node => 1}],
                                            completed_nodes => MS}, n, r, results)),
        ?assertError(_, M:record_response(#{sub_requests => [sub_request(n, nil, x, []) | t],
                                            completed_nodes => MS}, n, r, results)),
        %% process_response requires the RequestManager struct
        ?assertError(_, M:process_response(#{sub_requests => [], completed_nodes => MS,
                                             nodes_data => []}, n, r)),
        ?assertError(_, M:process_response(not_a_map, n, r))
    end).
