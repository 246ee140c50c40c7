%% Differential properties: every NIF-backed function of phn_request_manager returns
%% exactly what the plain-Erlang oracle phn_request_manager_erl returns, on random
%% ProcessHub-shaped inputs (0..2000 nodes, 0..25 000 children, random maps and keyword
%% lists). PropEr runs from EUnit (no rebar3_proper: hex is not reachable).
-module(phn_10_differential_tests).

-include_lib("proper/include/proper.hrl").
-include_lib("eunit/include/eunit.hrl").

-define(NIF, phn_request_manager).
-define(ERL, phn_request_manager_erl).

%% Each property gets its own generous timeout: big cases take a few hundred ms each.
-define(PROP(Name, NumTests),
    {atom_to_list(Name), {timeout, 300, fun() -> check(Name(), NumTests) end}}).

differential_test_() ->
    [
        ?PROP(prop_record_response, 150),
        ?PROP(prop_all_responded, 150),
        ?PROP(prop_process_response, 150),
        ?PROP(prop_split, 120),
        ?PROP(prop_populate_forward, 300),
        ?PROP(prop_cleanup_expired, 120)
    ].

check(Prop, NumTests) ->
    ?assertEqual(true, proper:quickcheck(Prop, [{numtests, NumTests}, {to_file, user}, noshrink])).

%% Compare both outcomes, errors included: an error must be an error in both.
same(F) ->
    ?WHENFAIL(io:format(user, "nif=~P~nerl=~P~n", [run(?NIF, F), 30, run(?ERL, F), 30]),
              equal(run(?NIF, F), run(?ERL, F))).

run(Mod, F) ->
    try {ok, F(Mod)} catch error:_ -> error end.

%% Equal, with MapSets and maps compared as terms (=:=).
equal(A, B) -> A =:= B.

prop_record_response() ->
    ?FORALL(
        Op, phn_gen:g_operation(),
        ?FORALL(
            {Node, Results, Field}, {phn_gen:g_node_for(Op), phn_gen:g_results(), elements([results, other])},
            same(fun(M) -> M:record_response(Op, Node, Results, Field) end)
        )
    ).

prop_all_responded() ->
    ?FORALL(Op, phn_gen:g_operation(), same(fun(M) -> M:'all_responded?'(Op) end)).

prop_process_response() ->
    ?FORALL(
        Op, phn_gen:g_operation(),
        ?FORALL(
            {Node, Results}, {phn_gen:g_node_for(Op), phn_gen:g_results()},
            same(fun(M) -> M:process_response(Op, Node, Results) end)
        )
    ).

prop_split() ->
    ?FORALL(Req, phn_gen:g_split_input(), same(fun(M) -> M:split(Req) end)).

prop_populate_forward() ->
    ?FORALL(
        {Forward, Targets, Child}, phn_gen:g_forward_input(),
        same(fun(M) -> M:populate_forward(Forward, Targets, Child) end)
    ).

prop_cleanup_expired() ->
    ?FORALL(
        {Pending, Now}, phn_gen:g_pending(),
        begin
            State = #{pending_operations => Pending, other => kept},
            same(fun(M) -> M:cleanup_expired(State, Now) end)
        end
    ).
