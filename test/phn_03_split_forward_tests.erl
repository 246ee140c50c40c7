%% @doc REFERENCE.md §6.1 cases 14–18 (split) and 37–41 (populate_forward).
%% Every test runs against both implementations.
-module(phn_03_split_forward_tests).

-include("phn_test.hrl").

-import(phn_test_helpers, [children/2, struct_with/2]).

start_req(Children) ->
    struct_with(?START_REQ:'__struct__'(),
                [{transaction_id, make_ref()}, {request_signature, 42}, {hub_id, test_hub},
                 {originating_node, node()}, {reply_to, [self()]}, {node, target@host},
                 {children, Children}, {options, [{a, 1}]},
                 {post_action, {post, action}}, {status, dispatched}]).

stop_req(Children) ->
    struct_with(?STOP_REQ:'__struct__'(),
                [{transaction_id, make_ref()}, {hub_id, test_hub}, {originating_node, node()},
                 {node, target@host}, {children, Children}, {options, [{b, 2}]},
                 {status, dispatched}]).

pids_reg(N) ->
    ?PIDS_REG:new(maps:from_list([{{cid, I}, {#{}, [], #{}}} || I <- lists:seq(1, N)])).

pids_unreg(N) ->
    ?PIDS_UNREG:new([{{child, I}, [node()]} || I <- lists:seq(1, N)], [{on_empty, stopped}]).

%% All chunks carry every field of the original but the split one, and the split
%% field's contents concatenate back to the original in order.
assert_chunks(Req, Field, Chunks, Sizes) ->
    ?assertEqual(Sizes, [length(maps:get(Field, C)) || C <- Chunks]),
    ?assertEqual(maps:get(Field, Req), lists:append([maps:get(Field, C) || C <- Chunks])),
    [?assertEqual(maps:remove(Field, Req), maps:remove(Field, C)) || C <- Chunks],
    ok.

%% Case 14: Start with 100 children -> [Req] (identical); 2500 -> 3 requests, 2500 total.
split_start_test_() ->
    ?FOR_MODS(fun(M) ->
        Small = start_req(children(c, 100)),
        ?assertEqual([Small], M:split(Small)),
        Big = start_req(children(c, 2500)),
        Chunks = M:split(Big),
        ?assertEqual(3, length(Chunks)),
        ?assertEqual(2500, lists:sum([length(maps:get(children, C)) || C <- Chunks])),
        assert_chunks(Big, children, Chunks, [1000, 1000, 500])
    end).

%% Case 14 (boundaries): exactly 1000 stays single, 1001 -> two; 0 children single.
split_start_boundaries_test_() ->
    ?FOR_MODS(fun(M) ->
        R1000 = start_req(children(c, 1000)),
        ?assertEqual([R1000], M:split(R1000)),
        R1001 = start_req(children(c, 1001)),
        assert_chunks(R1001, children, M:split(R1001), [1000, 1]),
        R2000 = start_req(children(c, 2000)),
        assert_chunks(R2000, children, M:split(R2000), [1000, 1000]),
        R0 = start_req([]),
        ?assertEqual([R0], M:split(R0))
    end).

%% Case 15: Stop with 100 -> [Req]; 2500 -> 3 requests.
split_stop_test_() ->
    ?FOR_MODS(fun(M) ->
        Small = stop_req(children(s, 100)),
        ?assertEqual([Small], M:split(Small)),
        Big = stop_req(children(s, 2500)),
        Chunks = M:split(Big),
        ?assertEqual(3, length(Chunks)),
        assert_chunks(Big, children, Chunks, [1000, 1000, 500])
    end).

%% Case 16: PidsRegister with 100 -> [Req]; 20000 -> 2 requests, map sizes total 20000;
%% chunks are fresh structs (the durable flag is reset: quirk).
split_pids_register_test_() ->
    ?FOR_MODS(fun(M) ->
        Small = pids_reg(100),
        ?assertEqual([Small], M:split(Small)),
        Big0 = pids_reg(20000),
        Big = Big0#{durable := true},
        Chunks = M:split(Big),
        ?assertEqual(2, length(Chunks)),
        ?assertEqual(20000, lists:sum([map_size(maps:get(children_data, C)) || C <- Chunks])),
        ?assertEqual(maps:get(children_data, Big),
                     maps:merge(maps:get(children_data, hd(Chunks)),
                                maps:get(children_data, lists:last(Chunks)))),
        [?assertEqual(false, maps:get(durable, C)) || C <- Chunks],
        [?assertEqual(?PIDS_REG, maps:get('__struct__', C)) || C <- Chunks],
        [?assertEqual(10000, map_size(maps:get(children_data, C))) || C <- Chunks],
        Exactly = (pids_reg(10000))#{durable := true},
        ?assertEqual([Exactly], M:split(Exactly)),
        Over = pids_reg(10001),
        ?assertEqual([10000, 1],
                     [map_size(maps:get(children_data, C)) || C <- M:split(Over)])
    end).

%% Case 17: PidsUnregister with 100 -> [Req]; 20000 -> 2, total 20000, on_empty kept.
split_pids_unregister_test_() ->
    ?FOR_MODS(fun(M) ->
        Small = pids_unreg(100),
        ?assertEqual([Small], M:split(Small)),
        Big = pids_unreg(20000),
        Chunks = M:split(Big),
        ?assertEqual(2, length(Chunks)),
        assert_chunks(Big, removable_cid_nodes, Chunks, [10000, 10000]),
        [?assertEqual(stopped, maps:get(on_empty, C)) || C <- Chunks],
        Over = pids_unreg(10001),
        assert_chunks(Over, removable_cid_nodes, M:split(Over), [10000, 1])
    end).

%% Case 18: split(#{unknown => true}) -> [that map]; anything else is [Req].
split_other_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertEqual([#{unknown => true}], M:split(#{unknown => true})),
        ?assertEqual([42], M:split(42)),
        ?assertEqual([nil], M:split(nil)),
        Other = #{'__struct__' => 'Elixir.Some.Other', children => children(c, 2000)},
        ?assertEqual([Other], M:split(Other)),
        %% a struct lacking the split field falls to "anything else"
        NoField = maps:remove(children, start_req([])),
        ?assertEqual([NoField], M:split(NoField)),
        NoData = #{'__struct__' => ?PIDS_REG},
        ?assertEqual([NoData], M:split(NoData))
    end).

%% split: a non-list / improper list / non-map split field raises.
split_bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertError(_, M:split(start_req(nil))),
        ?assertError(_, M:split(stop_req(nil))),
        ?assertError(_, M:split(start_req([a | b]))),
        ?assertError(_, M:split(start_req(children(c, 1500) ++ tail))),
        ?assertError(_, M:split(stop_req(#{}))),
        ?assertError(_, M:split((pids_reg(1))#{children_data := nil})),
        ?assertError(_, M:split((pids_reg(1))#{children_data := [{a, b}]})),
        ?assertError(_, M:split((pids_unreg(1))#{removable_cid_nodes := nil})),
        ?assertError(_, M:split((pids_unreg(1))#{removable_cid_nodes := [a | b]}))
    end).

%% The NIF splits a long list in one walk, chunk by chunk (on a dirty scheduler past
%% 10 000 elements): the chunks of a long list, an improper tail met after hundreds of
%% chunks were built, a tail at a chunk boundary, and limits past 10 000 (a chunk gathered
%% whole) are what they are for a short list.
split_in_one_walk_test_() ->
    {timeout, 120, fun() ->
        Long = start_req(lists:seq(1, 1000007)),
        assert_chunks(Long, children, phn_request_manager:split(Long),
                      lists:duplicate(1000, 1000) ++ [7]),
        ?assertError(badarg, phn_request_manager:split(start_req(lists:seq(1, 600000) ++ tail))),
        ?assertError(badarg, phn_request_manager:split(start_req(lists:seq(1, 600001) ++ tail))),
        Unreg = (pids_unreg(0))#{removable_cid_nodes := lists:seq(1, 250000)},
        assert_chunks(Unreg, removable_cid_nodes, phn_request_manager:split(Unreg),
                      lists:duplicate(25, 10000)),
        Wide = start_req(lists:seq(1, 50001)),
        ?assertEqual([Wide], phn_nif:split_list(Wide, children, 60000)),
        assert_chunks(Wide, children, phn_nif:split_list(Wide, children, 20000),
                      [20000, 20000, 10001]),
        ?assertError(badarg, phn_nif:split_list(start_req(lists:seq(1, 40000) ++ tail),
                                                children, 20000))
    end}.

%% Case 37: ([], [n1], C) -> [{n1, [C]}].
populate_forward_single_test_() ->
    ?FOR_MODS(fun(M) ->
        C = #{child_id => c1},
        ?assertEqual([{n1, [C]}], M:populate_forward([], [n1], C))
    end).

%% Case 38: ([], [n1, n2], C) -> [{n1, [C]}, {n2, [C]}].
populate_forward_two_nodes_test_() ->
    ?FOR_MODS(fun(M) ->
        C = #{child_id => c1},
        ?assertEqual([{n1, [C]}, {n2, [C]}], M:populate_forward([], [n1, n2], C))
    end).

%% Case 39: applying [n1] with C1 then C2 -> n1 => [C2, C1].
populate_forward_prepends_test_() ->
    ?FOR_MODS(fun(M) ->
        F1 = M:populate_forward([], [n1], c1),
        ?assertEqual([{n1, [c2, c1]}], M:populate_forward(F1, [n1], c2))
    end).

%% Case 40: existing [{n1, [E]}] + [n2] -> [{n1, [E]}, {n2, [C]}].
populate_forward_appends_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertEqual([{n1, [e]}, {n2, [c]}], M:populate_forward([{n1, [e]}], [n2], c))
    end).

%% Case 41: empty target list -> input unchanged.
populate_forward_empty_targets_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertEqual([], M:populate_forward([], [], c)),
        ?assertEqual([{n1, [e]}, {n2, []}], M:populate_forward([{n1, [e]}, {n2, []}], [], c))
    end).

%% Cases 37–41 (Keyword.update details): the first occurrence is updated in place,
%% later duplicates of that key are dropped, a repeated target prepends twice.
populate_forward_keyword_semantics_test_() ->
    ?FOR_MODS(fun(M) ->
        F = [{n1, [a]}, {n2, [b]}, {n1, [dup]}, {n3, [c]}],
        ?assertEqual([{n1, [x, a]}, {n2, [b]}, {n3, [c]}], M:populate_forward(F, [n1], x)),
        ?assertEqual([{n1, [a]}, {n2, [x, b]}, {n1, [dup]}, {n3, [c]}],
                     M:populate_forward(F, [n2], x)),
        ?assertEqual([{n1, [x, x]}], M:populate_forward([], [n1, n1], x)),
        ?assertEqual([{n2, [x, b]}, {n1, [x]}], M:populate_forward([{n2, [b]}], [n1, n2], x)),
        %% non-atom keys already in the forward list are allowed
        ?assertEqual([{"k", v}, {n1, [x]}], M:populate_forward([{"k", v}], [n1], x))
    end).

%% populate_forward: non-atom targets, a non-proper or non-2-tuple forward list -> badarg.
populate_forward_bad_input_test_() ->
    ?FOR_MODS(fun(M) ->
        ?assertError(badarg, M:populate_forward([], ["n1"], c)),
        ?assertError(badarg, M:populate_forward([], [n1, 1], c)),
        ?assertError(badarg, M:populate_forward([], n1, c)),
        ?assertError(badarg, M:populate_forward([], [n1 | n2], c)),
        ?assertError(badarg, M:populate_forward(not_a_list, [n1], c)),
        ?assertError(badarg, M:populate_forward([{n1, []} | tail], [n1], c)),
        ?assertError(badarg, M:populate_forward([{n1, [], extra}], [n2], c)),
        ?assertError(badarg, M:populate_forward([n1], [n2], c))
    end).
