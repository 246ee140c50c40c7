%% Map mode runs small inputs in plain Erlang (phn_rm_small) and large ones in the NIF:
%% at, just under and just over every limit, the drop-in phn_request_manager answers
%% exactly what the oracle phn_request_manager_erl answers and what the NIF alone
%% answers (errors included, with the NIF's class: badarg), and phn_rm_small takes the
%% inputs within its limits and declines the others.
-module(phn_14_adaptive_tests).

-include_lib("proper/include/proper.hrl").
-include_lib("eunit/include/eunit.hrl").

-define(DROPIN, phn_request_manager).
-define(ERL, phn_request_manager_erl).
-define(MAPSET, 'Elixir.MapSet').

limit(Key) -> maps:get(Key, phn_rm_small:limits()).

%% Sizes at and around a limit.
around(Limit) -> [max(0, Limit - 1), Limit, Limit + 1].

outcome(F) ->
    try {ok, F()} catch Class:Reason -> {Class, Reason} end.

%% The drop-in against the NIF alone (exactly, errors included) and against the oracle
%% (exactly on success, an error for an error).
same(DropIn, Nif, Erl) ->
    D = outcome(DropIn),
    ?assertEqual(outcome(Nif), D),
    case outcome(Erl) of
        {ok, _} = E -> ?assertEqual(E, D);
        _ -> ?assertMatch({error, _}, D)
    end.

%%% Which path runs

limits_test() ->
    #{process_response := P, record_response := R, 'all_responded?' := A,
      populate_forward_keys := K, populate_forward_targets := T} = phn_rm_small:limits(),
    ?assert(lists:all(fun(L) -> is_integer(L) andalso L > 0 end, [P, R, A, K, T])).

erlang_within_limits_test_() ->
    {timeout, 60, fun() ->
        P = limit(process_response),
        A = limit('all_responded?'),
        Op = fun(N) -> phn_gen:operation(phn_gen:node_names(N), 1, []) end,
        ?assertMatch({ok, {pending, _}}, phn_rm_small:process_response(Op(P), 'n1@host', [])),
        ?assertEqual(native, phn_rm_small:process_response(Op(P + 1), 'n1@host', [])),
        ?assertMatch({ok, _}, phn_rm_small:record_response(Op(P), 'n1@host', [], results)),
        ?assertEqual(native, phn_rm_small:record_response(Op(P + 1), 'n1@host', [], results)),
        ?assertEqual({ok, false}, phn_rm_small:'all_responded?'(Op(A))),
        ?assertEqual(native, phn_rm_small:'all_responded?'(Op(A + 1))),
        K = limit(populate_forward_keys),
        T = limit(populate_forward_targets),
        Fwd = fun(N) -> [{I, []} || I <- lists:seq(1, N)] end,
        Ts = fun(N) -> [list_to_atom("t" ++ integer_to_list(I)) || I <- lists:seq(1, N)] end,
        ?assertMatch({ok, _}, phn_rm_small:populate_forward(Fwd(K), Ts(T), c)),
        ?assertEqual(native, phn_rm_small:populate_forward(Fwd(K + 1), Ts(T), c)),
        ?assertEqual(native, phn_rm_small:populate_forward(Fwd(K), Ts(T + 1), c)),
        %% Malformed input is left to the NIF, which raises badarg as before.
        ?assertEqual(native, phn_rm_small:process_response(#{}, a, [])),
        ?assertEqual(native, phn_rm_small:populate_forward([x], [a], c))
    end}.

%%% Same answers either side of each limit

process_response_around_limit_test_() ->
    {timeout, 120, fun() ->
        [response_cases(N) || N <- around(limit(process_response)) ++ [0, 1, 3, 32, 33]]
    end}.

response_cases(N) ->
    Nodes = phn_gen:node_names(N),
    Last = case Nodes of [] -> 'n1@host'; _ -> lists:last(Nodes) end,
    Ops = [phn_gen:operation(Nodes, 1, []),
           %% every node but the last answered: the response completes it
           phn_gen:operation(Nodes, 1, Nodes -- [Last]),
           %% a stranger among the completed nodes: never complete
           phn_gen:operation(Nodes, 1, (Nodes -- [Last]) ++ ['x@host'])],
    [begin
         same(fun() -> ?DROPIN:process_response(Op, Node, [{c, ok}]) end,
              fun() -> phn_nif:process_response(Op, Node, [{c, ok}]) end,
              fun() -> ?ERL:process_response(Op, Node, [{c, ok}]) end),
         [same(fun() -> ?DROPIN:record_response(Op, Node, r, Field) end,
               fun() -> phn_nif:record_response(Op, Node, r, Field) end,
               fun() -> ?ERL:record_response(Op, Node, r, Field) end)
          || Field <- [results, other]]
     end
     || Op <- Ops, Node <- [Last, 'stranger@host']],
    ok.

all_responded_around_limit_test() ->
    A = limit('all_responded?'),
    [begin
         Nodes = phn_gen:node_names(N),
         Dup = lists:sublist(Nodes, 1),
         Ops = [phn_gen:operation(Nodes, 1, Nodes),
                phn_gen:operation(Nodes, 1, tl_or_empty(Nodes)),
                phn_gen:operation(Nodes ++ Dup, 1, Nodes),
                phn_gen:operation(Nodes, 1, Nodes ++ ['x@host'])],
         [same(fun() -> ?DROPIN:'all_responded?'(Op) end,
               fun() -> phn_nif:all_responded(Op) end,
               fun() -> ?ERL:'all_responded?'(Op) end)
          || Op <- Ops]
     end
     || N <- around(A) ++ [0, 1, A - 2, A + 2]].

tl_or_empty([]) -> [];
tl_or_empty([_ | T]) -> T.

populate_forward_around_limits_test() ->
    K = limit(populate_forward_keys),
    T = limit(populate_forward_targets),
    [begin
         Forward = [{list_to_atom("k" ++ integer_to_list(I)), [I]} || I <- lists:seq(1, Keys)]
             ++ [{k1, [dup]}],
         Targets = [list_to_atom("k" ++ integer_to_list(Keys - I)) || I <- lists:seq(0, Ts - 2)]
             ++ [new_key],
         same(fun() -> ?DROPIN:populate_forward(Forward, Targets, c) end,
              fun() -> phn_nif:populate_forward(Forward, Targets, c) end,
              fun() -> ?ERL:populate_forward(Forward, Targets, c) end)
     end
     || Keys <- around(K - 1) ++ [1, 2], Ts <- around(T) ++ [1]].

split_around_limits_test_() ->
    {timeout, 60, fun() ->
        [begin
             Req = phn_gen:start_request(phn_gen:children(N)),
             same(fun() -> ?DROPIN:split(Req) end,
                  fun() -> phn_nif:split_list(Req, children, 1000) end,
                  fun() -> ?ERL:split(Req) end)
         end
         || N <- around(1000) ++ [0, 1, 2, 3, 4, 5, 2000, 2001]],
        [begin
             Req = phn_gen:pids_unregister(N),
             same(fun() -> ?DROPIN:split(Req) end,
                  fun() -> phn_nif:split_list(Req, removable_cid_nodes, 10000) end,
                  fun() -> ?ERL:split(Req) end)
         end
         || N <- around(10000) ++ [0, 20001]],
        %% Within the limit the request itself comes back, not a copy.
        Whole = phn_gen:start_request(phn_gen:children(1000)),
        [Same] = ?DROPIN:split(Whole),
        ?assert(erts_debug:same(Whole, Same))
    end}.

%%% Malformed input either side of a limit: the NIF's badarg, as before

bad_input_around_limits_test_() ->
    {timeout, 60, fun() ->
        P = limit(process_response),
        A = limit('all_responded?'),
        [begin
             Op = phn_gen:operation(phn_gen:node_names(N), 1, []),
             #{sub_requests := Subs, nodes_data := ND} = Op,
             BadSub = Op#{sub_requests := Subs ++ [not_a_map]},
             NoNode = Op#{sub_requests := Subs ++ [#{no_node => 1}]},
             Improper = Op#{sub_requests := Subs ++ improper},
             BadNodes = Op#{nodes_data := ND ++ [{a, b, c}]},
             BadSet = Op#{completed_nodes := #{map => #{}}},
             [?assertEqual({error, badarg}, outcome(fun() -> ?DROPIN:process_response(O, 'n1@host', []) end))
              || O <- [BadSub, NoNode, Improper, BadNodes, BadSet]],
             [?assertEqual({error, badarg}, outcome(fun() -> ?DROPIN:record_response(O, 'n1@host', [], results) end))
              || O <- [BadSub, NoNode, Improper, BadSet]],
             ?assertEqual({error, badarg}, outcome(fun() -> ?DROPIN:'all_responded?'(BadNodes) end))
         end
         || N <- [0, 1, A, A + 1, P - 1]],
        K = limit(populate_forward_keys),
        [?assertEqual({error, badarg},
                      outcome(fun() -> ?DROPIN:populate_forward(Fwd, [a], c) end))
         || Fwd <- [[{a, []} || _ <- lists:seq(1, K)] ++ [x], [x], [{a, []} | b]]],
        ?assertEqual({error, badarg}, outcome(fun() -> ?DROPIN:populate_forward([], [a, "b"], c) end)),
        ?assertEqual({error, badarg}, outcome(fun() -> ?DROPIN:populate_forward([], [a | b], c) end)),
        ?assertEqual({error, badarg},
                     outcome(fun() -> ?DROPIN:split(phn_gen:start_request([a, b | c])) end)),
        ?assertEqual({error, badarg}, outcome(fun() -> ?DROPIN:'all_responded?'(not_a_map) end))
    end}.

%%% The NIF's exact choices, kept by the Erlang path

%% A node already completed leaves completed_nodes as it is (MapSet.put), whatever
%% value its entry holds; a field named status is overwritten by status => completed.
nif_choices_test() ->
    Op0 = phn_gen:operation(['a@h', 'b@h'], 1, []),
    Set = (phn_rm_common:empty_mapset())#{map := #{'a@h' => kept}},
    Op = Op0#{completed_nodes := Set},
    [?assertEqual(outcome(fun() -> phn_nif:record_response(Op, Node, r, Field) end),
                  outcome(fun() -> ?DROPIN:record_response(Op, Node, r, Field) end))
     || Node <- ['a@h', 'b@h'], Field <- [results, status, node, other]],
    ?assertEqual(phn_nif:process_response(Op, 'a@h', r), ?DROPIN:process_response(Op, 'a@h', r)),
    %% 1 and 1.0 are distinct map keys: two nodes, not one.
    Mixed = (phn_gen:operation([1, 1.0], 1, []))#{completed_nodes := phn_gen:mapset([1, 1.0])},
    ?assertEqual(phn_nif:all_responded(Mixed), ?DROPIN:'all_responded?'(Mixed)),
    ?assert(?DROPIN:'all_responded?'(Mixed)),
    OneOnly = Mixed#{completed_nodes := phn_gen:mapset([1])},
    ?assertEqual(phn_nif:all_responded(OneOnly), ?DROPIN:'all_responded?'(OneOnly)),
    %% sub-request nodes compare with ==
    Sub = (phn_gen:operation([1], 1, []))#{nodes_data := [{1.0, []}]},
    ?assertEqual(phn_nif:process_response(Sub, 1.0, r), ?DROPIN:process_response(Sub, 1.0, r)).

%%% Random operations sized around the limits

around_limits_property_test_() ->
    {timeout, 300, fun() ->
        ?assert(proper:quickcheck(prop_around_limits(), [{numtests, 300}, {to_file, user}, noshrink]))
    end}.

prop_around_limits() ->
    A = limit('all_responded?'),
    ?FORALL(
        {N, Dups, Extra},
        {range(max(0, A - 3), A + 3), range(0, 2), range(0, 1)},
        ?FORALL(
            {Answered, Node, Field},
            {list_of_subset(phn_gen:node_names(N)),
             oneof(['n1@host', 'stranger@host' | phn_gen:node_names(N)]),
             elements([results, status, other])},
            begin
                Nodes = phn_gen:node_names(N),
                Op = phn_gen:operation(Nodes ++ lists:sublist(Nodes, Dups), 1,
                                       Answered ++ lists:sublist(['x@host'], Extra)),
                Checks = [
                    {fun() -> ?DROPIN:process_response(Op, Node, r) end,
                     fun() -> phn_nif:process_response(Op, Node, r) end},
                    {fun() -> ?DROPIN:record_response(Op, Node, r, Field) end,
                     fun() -> phn_nif:record_response(Op, Node, r, Field) end},
                    {fun() -> ?DROPIN:'all_responded?'(Op) end,
                     fun() -> phn_nif:all_responded(Op) end}
                ],
                lists:all(fun({D, Nif}) -> outcome(D) =:= outcome(Nif) end, Checks)
                    andalso outcome(fun() -> ?DROPIN:process_response(Op, Node, r) end)
                            =:= outcome(fun() -> ?ERL:process_response(Op, Node, r) end)
            end
        )
    ).

list_of_subset(List) ->
    ?LET(Bits, vector(length(List), boolean()), [E || {E, true} <- lists:zip(List, Bits)]).
