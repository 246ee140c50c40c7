%% @doc phn_tracker's keys (issue 13 item 4): an operation is keyed by its reference itself,
%% not by its external format (which names the node), so operations tracked before the
%% node starts distribution are found after it, and after it restarts under another name;
%% the key cap is a walk that stops at 255 units; and the key environment, compacted
%% while operations come and go, keeps every live key.
-module(phn_25_tracker_keys_tests).

-include_lib("eunit/include/eunit.hrl").

-export([across_distribution/0]).

-define(T, phn_tracker).
%% Monotonic time may be negative: a deadline surely in the past.
-define(LONG_AGO, -(1 bsl 62)).

far() -> #{timeout_ms => 600000}.

%%====================================================================
%% Distribution starting under live operations
%%====================================================================

%% A peer without distribution tracks operations keyed by local references (alone and
%% inside terms), starts distribution, restarts it under another name, and after each step
%% record/get/take/count/update/cancel/cleanup still find them.
distribution_start_keeps_operations_test_() ->
    {timeout, 120,
     fun() ->
             phn_cluster:start(),
             try
                 Result = on_plain_peer(across_distribution),
                 ?assertEqual(expected(), Result)
             after
                 phn_cluster:stop()
             end
     end}.

on_plain_peer(Function) ->
    Dirs = [D || D <- code:get_path(), string:find(D, "process_hub_native") =/= nomatch],
    P = integer_to_list(phn_cluster:epmd_port()),
    {ok, Peer, nonode@nohost} = peer:start(#{connection => standard_io, wait_boot => 30000,
                              args => ["-epmd_port", P, "-pa" | Dirs],
                              env => [{"ERL_EPMD_PORT", P}]}),
    try
        nonode@nohost = peer:call(Peer, erlang, node, []),
        peer:call(Peer, ?MODULE, Function, [], 60000)
    after
        peer:stop(Peer)
    end.

expected() ->
    {nonode@nohost, distributed, restarted,
     [{pending, 1}, {ok, #{collected => [{a, [1]}], missing => [b]}}, {pending, 1},
      {ok, #{collected => [], missing => [b]}}, ok, ok, ok],
     [{complete, [{a, [1]}, {b, [2]}]}, complete, {ok, keyed}, ok, 1, 0]}.

%% Runs on the peer.
across_distribution() ->
    Plain = node(),
    T = ?T:new(),
    [R1, R2, R3, R4, R5, R6] = [make_ref() || _ <- lists:seq(1, 6)],
    ok = ?T:track(T, R1, [a, b], far()),
    ok = ?T:track(T, {R2, <<"k">>}, [a, b], far()),
    ok = ?T:track(T, #{tx => R3}, [a, b], far()),
    ok = ?T:track(T, [R4], [a, b], far()),
    ok = ?T:track(T, R5, [a], far()),
    ok = ?T:track(T, R6, [a], #{deadline_ms => ?LONG_AGO}),
    {ok, _} = net_kernel:start([phn_keys_a, shortnames]),
    Dist = case node() of Plain -> plain; _ -> distributed end,
    First = [?T:record(T, R1, a, [1]),
             info(?T:get(T, R1)),
             ?T:count(T, {R2, <<"k">>}, a),
             info(?T:get(T, {R2, <<"k">>})),
             ?T:update(T, #{tx => R3}, #{meta => keyed}),
             ?T:update(T, R5, #{timeout_ms => 600000}),
             ?T:update(T, [R4], #{timeout_ms => 600000})],
    ok = net_kernel:stop(),
    {ok, _} = net_kernel:start([phn_keys_b, shortnames]),
    Restarted = case node() of Plain -> plain; _ -> restarted end,
    Then = [?T:record(T, R1, b, [2]),
            ?T:count(T, {R2, <<"k">>}, b),
            meta(?T:peek(T, #{tx => R3})),
            ?T:cancel(T, [R4]),
            length(?T:take_expired(T, ?LONG_AGO + 1)),
            element(2, ?T:cleanup_expired(T, ?LONG_AGO + 1, 10)) =:= done andalso
                ?T:drop_expired(T, ?LONG_AGO + 1)],
    ok = net_kernel:stop(),
    {Plain, Dist, Restarted, First, Then}.

info({ok, Info}) -> {ok, maps:with([collected, missing], Info)};
info(Other) -> Other.

meta({ok, Meta, _Missing}) -> {ok, Meta};
meta(Other) -> Other.

%%====================================================================
%% The key cap: 8 per term and per list cell, plus the bytes of binaries, at most 255
%%====================================================================

key_cap_test() ->
    T = ?T:new(),
    Ok = [make_ref(), {make_ref(), 'n@h'}, self(), 1.5, 1 bsl 63, -(1 bsl 63),
          binary:copy(<<1>>, 247), lists:seq(1, 15), list_to_tuple(lists:seq(1, 30)),
          maps:from_list([{I, I} || I <- lists:seq(1, 15)]), [a | b], [], #{}, {}, <<>>],
    TooBig = [binary:copy(<<1>>, 248), lists:seq(1, 16), list_to_tuple(lists:seq(1, 31)),
              maps:from_list([{I, I} || I <- lists:seq(1, 16)]), {binary:copy(<<1>>, 240)},
              [binary:copy(<<1>>, 100), binary:copy(<<1>>, 140)]],
    Refused = [fun() -> ok end, fun erlang:node/0, 1 bsl 64, -(1 bsl 64) - 1, <<1:3>>,
               {make_ref(), fun() -> ok end}],
    [?assertEqual({K, ok}, {K, ?T:track(T, K, [a], far())}) || K <- Ok],
    [?assertError(badarg, ?T:track(T, K, [a], far())) || K <- TooBig ++ Refused],
    [?assertError(badarg, ?T:count(T, K, a)) || K <- TooBig ++ Refused],
    [?assertError(badarg, ?T:get(T, K)) || K <- TooBig ++ Refused],
    [?assertEqual({K, complete}, {K, ?T:count(T, K, a)}) || K <- Ok],
    ?assertEqual(0, ?T:size(T)).

%% Terms equal by =:= find each other however they were built; == is not enough.
keys_compare_exactly_test() ->
    T = ?T:new(),
    <<_, Sub/binary>> = <<0, "abc">>,
    M1 = maps:from_list([{I, I} || I <- lists:seq(1, 10)]),
    M2 = maps:from_list([{I, I} || I <- lists:seq(10, 1, -1)]),
    ok = ?T:track(T, {<<"abc">>, M1}, [a], far()),
    ?assertEqual({error, already_tracked}, ?T:track(T, {Sub, M2}, [a], far())),
    ok = ?T:track(T, 1, [a], far()),
    ?assertEqual({ignored, unknown_operation}, ?T:count(T, 1.0, a)),
    ?assertEqual(complete, ?T:count(T, {Sub, M2}, a)),
    ?assertEqual(complete, ?T:count(T, 1, a)).

%%====================================================================
%% Key environments: compacted under churn, live keys kept
%%====================================================================

%% 100 operations live through 60 000 others coming and going (removed every way there
%% is): the dead keys are compacted away (the environments hold a bounded number of key
%% units, not 60 000 keys' worth), and the 100 are found and complete afterwards.
compaction_keeps_live_keys_test_() ->
    {timeout, 120,
     fun() ->
             T = ?T:new(),
             Keep = [{keep, make_ref(), I} || I <- lists:seq(1, 100)],
             [ok = ?T:track(T, K, [a, b], far()) || K <- Keep],
             Max = churn(T, 60000, 0),
             %% A reference costs 8 units; at most about twice the live keys plus the
             %% floor (16 384) are ever held, while 60 000 dead references are 480 000.
             ?assert(Max < 60000),
             [?assertEqual({pending, 1}, ?T:count(T, K, a)) || K <- Keep],
             [?assertMatch({ok, #{ref := K}}, ?T:get(T, K)) || K <- Keep],
             [?assertEqual({complete, [{b, [x]}]}, ?T:record(T, K, b, [x])) || K <- Keep],
             ?assertEqual(0, ?T:size(T)),
             %% Expiry and close under compaction too.
             [ok = ?T:track(T, {old, I}, [a], #{deadline_ms => ?LONG_AGO + 100}) || I <- lists:seq(1, 50)],
             _ = churn(T, 30000, 0),
             ?assertEqual(lists:sort([{old, I} || I <- lists:seq(1, 50)]),
                          lists:sort(?T:take_expired(T, ?LONG_AGO + 101))),
             ok = ?T:close(T),
             ?assertEqual(0, maps:get(key_units, maps:get(debug, ?T:stats(T))))
     end}.

churn(_T, 0, Max) -> Max;
churn(T, N, Max) ->
    R = make_ref(),
    ok = ?T:track(T, R, [a], #{timeout_ms => 600000, meta => N}),
    case N rem 5 of
        0 -> ok = ?T:cancel(T, R);
        1 -> complete = ?T:count(T, R, a);
        2 -> {complete, _} = ?T:record(T, R, a, [N]);
        3 -> {ok, _} = ?T:take(T, R);
        4 -> ok = ?T:update(T, R, #{deadline_ms => ?LONG_AGO}),
             [R] = ?T:take_expired(T, ?LONG_AGO + 1)
    end,
    Units = maps:get(key_units, maps:get(debug, ?T:stats(T))),
    churn(T, N - 1, max(Max, Units)).

%% A key that is a sub-binary of a big binary is kept as a copy of its own bytes: the
%% tracker never keeps the big binary alive (the reference handed back by take_expired/2
%% is the kept copy).
sub_binary_key_keeps_only_its_bytes_test() ->
    T = ?T:new(),
    Huge = binary:copy(<<1>>, 1 bsl 20),
    Key = {binary:part(Huge, 10, 100)},
    ?assertEqual(1 bsl 20, binary:referenced_byte_size(element(1, Key))),
    ok = ?T:track(T, Key, [a], #{deadline_ms => ?LONG_AGO}),
    [Kept] = ?T:take_expired(T, ?LONG_AGO + 1),
    ?assertEqual(Key, Kept),
    ?assertEqual(100, binary:referenced_byte_size(element(1, Kept))).
