%% @doc The terms phn_tracker keeps (meta, chunk results) live in compact images
%% (c_src/nif/phn_nif_flat.c), not in ERTS environments: whatever goes in comes back
%% exactly (=:=), through every path that hands terms back (peek, get, take, completion,
%% cleanup, update), for every kind of term: the ones kept by value or structure (atoms,
%% integers of 64 bits, floats, binaries, local pids, lists proper and improper, tuples,
%% maps small and large) and the ones kept in the external format (references, funs,
%% ports, bignums, bitstrings, sub-binaries, remote pids). Plus the byte accounting of
%% stats/1 and the global counters.
-module(phn_24_tracker_image_tests).

-include_lib("proper/include/proper.hrl").
-include_lib("eunit/include/eunit.hrl").

-define(T, phn_tracker).

far() -> #{timeout_ms => 600000}.

%% Terms that exercise every branch of the image format.
samples() ->
    Big = binary:copy(<<"x">>, 1000),
    <<_:3, Unaligned:100/binary, _/bits>> = binary:copy(<<"y">>, 200),
    <<_:8, Sub:50/binary, _/binary>> = Big,
    [ok, [], {}, #{}, <<>>, 0, -1, 1 bsl 59, -(1 bsl 59), 1 bsl 63 - 1, -(1 bsl 63),
     1 bsl 64, -(1 bsl 70), 1 bsl 200, 1.5, -0.0, 0.0, 1.0e300, -2.5e-300,
     'Elixir.ProcessHub.Service.RequestManager', list_to_atom([16#1F600, $a]),
     self(), make_ref(), alias(), fun lists:map/2, fun(X) -> {X, Big} end,
     hd(erlang:ports()), <<1:3>>, <<7, 1:5>>, Unaligned, Sub, Big,
     "string", [1 | 2], [a, b | c], [[[[[]]]]], {a, {b, {c, {}}}},
     maps:from_list([{I, {v, I}} || I <- lists:seq(1, 100)]),
     #{#{k => [1]} => {x}, [1, 2] => <<"v">>, 1.0 => 1, 1 => 1.0},
     list_to_pid("<0.1.0>"),
     binary_to_term(<<131, 88, 100, 0, 13, "other@nohost1", 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1>>),
     lists:seq(1, 5000),
     {op, #{'__struct__' => 'Elixir.MapSet', map => #{a => [], b => []}, version => 2}}].

%% Every path that hands a kept term back: [{Got, Expected}].
round_trip(T, Term) ->
    R = make_ref(),
    ok = ?T:track(T, R, [a, b], #{timeout_ms => 600000, meta => Term}),
    {ok, M1, 2} = ?T:peek(T, R),
    {pending, 1} = ?T:record(T, R, a, Term),
    {ok, #{meta := M2, collected := [{a, C1}]}} = ?T:get(T, R),
    ok = ?T:update_meta(T, R, {wrapped, Term}),
    {ok, {wrapped, M3}, 1} = ?T:peek(T, R),
    {complete, [{a, C2}, {b, C3}], {wrapped, M4}} =
        ?T:record(T, R, b, [Term], #{return_meta => true}),
    ok = ?T:track(T, R, [a, b], #{deadline_ms => 0, meta => Term}),
    {pending, 1} = ?T:record(T, R, a, Term),
    [#{meta := M5, collected := [{a, C4}]}] = ?T:cleanup_expired(T, 1),
    ok = ?T:track(T, R, [{a, 2}, b], #{timeout_ms => 600000, meta => Term}),
    {pending, 2} = ?T:record(T, R, a, [Term]),
    {pending, 1} = ?T:record(T, R, a, [Term]),
    {ok, #{meta := M6, collected := [{a, C5}]}} = ?T:take(T, R),
    [{M1, Term}, {C1, Term}, {M2, Term}, {M3, Term}, {C2, Term}, {C3, [Term]}, {M4, Term},
     {M5, Term}, {C4, Term}, {M6, Term}, {C5, [Term, Term]}].

samples_test() ->
    T = ?T:new(),
    [begin
         [?assert(Got =:= Want, {Want, Got}) || {Got, Want} <- round_trip(T, Term)]
     end || Term <- samples()],
    ?assertEqual(0, ?T:size(T)),
    ok = ?T:close(T).

%% Chunks of one node are concatenated from their images as they were from terms: list
%% chunks spliced, a non-list chunk as one element, the newest list chunk as the tail.
chunks_test() ->
    T = ?T:new(),
    R = make_ref(),
    ok = ?T:track(T, R, [{a, 4}], far()),
    {pending, 1} = ?T:record(T, R, a, [1, self()]),
    {pending, 1} = ?T:record(T, R, a, not_a_list),
    {pending, 1} = ?T:record(T, R, a, [x | improper]),
    Self = self(),
    ?assertEqual({complete, [{a, [1, Self, not_a_list, [x | improper], <<"last">>]}]},
                 ?T:record(T, R, a, [<<"last">>])),
    ok = ?T:close(T).

%% Terms PropEr makes, alone or nested in lists, tuples and maps, with the special
%% terms mixed in.
prop_image() ->
    Special = elements([X || X <- samples(), erts_debug:flat_size(X) < 200]),
    %% A fixed set of atoms: random ones would fill the atom table.
    Atom = elements([a, b, ok, undefined, 'Elixir.ProcessHub', 'node@host', '']),
    Leaf = oneof([Special, Atom, integer(), largeint(), float(), binary(), bitstring(),
                  char(), string()]),
    Gen = ?SIZED(S, resize(min(S, 12), term_of(Leaf, min(S, 12)))),
    ?FORALL(Term, Gen,
            begin
                T = get(tracker),
                lists:all(fun({Got, Want}) -> Got =:= Want end, round_trip(T, Term))
            end).

term_of(Leaf, 0) -> Leaf;
term_of(Leaf, S) ->
    Sub = term_of(Leaf, S div 3),
    oneof([Leaf,
           list(Sub),
           ?LET({L, Tail}, {non_empty(list(Sub)), Leaf}, L ++ Tail),
           ?LET(L, list(Sub), list_to_tuple(L)),
           ?LET(L, list({Sub, Sub}), maps:from_list(L))]).

image_property_test_() ->
    {timeout, 120, fun() ->
        put(tracker, ?T:new()),
        ?assertEqual(true, proper:quickcheck(prop_image(), [{numtests, 600}, {to_file, user}])),
        ok = ?T:close(erase(tracker))
    end}.

%% stats/1 bytes grow by what a kept term takes and come back down when it leaves; the
%% global counters follow.
bytes_accounting_test() ->
    T = ?T:new(),
    Fresh = maps:get(bytes, ?T:stats(T)),
    ok = ?T:track(T, r, [a, b], far()),
    Bare = maps:get(bytes, ?T:stats(T)),
    ?assert(Bare > Fresh),
    {pending, 1} = ?T:record(T, r, a, lists:seq(1, 1000)),
    Recorded = maps:get(bytes, ?T:stats(T)),
    ?assert(Recorded - Bare >= 1000),
    ok = ?T:update_meta(T, r, binary:copy(<<"m">>, 5000)),
    WithMeta = maps:get(bytes, ?T:stats(T)),
    ?assert(WithMeta - Recorded >= 5000),
    ok = ?T:update_meta(T, r, small),
    ?assert(maps:get(bytes, ?T:stats(T)) < WithMeta - 4900),
    ?assertMatch(#{kept_terms := 1, ops := 1}, ?T:stats(T)),
    {complete, _} = ?T:record(T, r, b, []),
    ?assertMatch(#{kept_terms := 0, ops := 0}, ?T:stats(T)),
    ?assert(maps:get(bytes, ?T:stats(T)) < Bare),
    ok = ?T:close(T).
