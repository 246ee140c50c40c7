#!/usr/bin/env escript
%% Writes the seed corpus of the C-node fuzz targets (fuzz_cn_*.c):
%% corpus/cn_term, cn_dist, cn_ctl and cn_session, real external terms made by
%% term_to_binary (files named regress_* are reproducers of fixed bugs, kept as they are).
%% Run it again after changing a target's input format:
%%     escript test/fuzz/gen_cn_seeds.escript
%% The seeded state the targets start from (fuzz_cn_common.h): our node fz@h, peers a@h
%% (connection 0) and b@h (connection 1), hub0 watched over [a@h, b@h, fz@h] with a
%% subscriber <a@h.7.0>, operation R0 (hub0: {a@h, 2}, b@h) and R1 (any hub: a@h).
-mode(compile).

main(_) ->
    Dir = filename:join(filename:dirname(escript:script_name()), "corpus"),
    Sets = [{"cn_term", term_seeds()},
            {"cn_dist", dist_seeds()},
            {"cn_ctl", ctl_seeds()},
            {"cn_session", session_seeds()}],
    lists:foreach(
        fun({Target, Seeds}) ->
                D = filename:join(Dir, Target),
                ok = filelib:ensure_dir(filename:join(D, "x")),
                %% regress_* files are inputs that once found a bug: kept.
                [ok = file:delete(F) || F <- filelib:wildcard(filename:join(D, "*")),
                                        not lists:prefix("regress_", filename:basename(F))],
                [ok = file:write_file(filename:join(D, Name), Bin) || {Name, Bin} <- Seeds],
                io:format("~s: ~p seeds~n", [Target, length(Seeds)])
        end, Sets).

%%% Terms of the seeded state

pid(Node, Num) ->
    N = atom_to_binary(Node),
    binary_to_term(<<131, 88, 119, (byte_size(N)), N/binary, Num:32, 0:32, 1:32>>).

ref(Last) ->
    binary_to_term(<<131, 90, 3:16, 119, 4, "fz@h", 1:32, 1:32, 2:32, Last:32>>).

r0() -> ref(3).
r1() -> ref(4).
a() -> 'a@h'.
b() -> 'b@h'.
self_pid() -> pid('fz@h', 0).

ext(T) -> term_to_binary(T).
bare(T) -> binary_part(ext(T), 1, byte_size(ext(T)) - 1).  % without the version byte

frame(Bin) -> <<(byte_size(Bin)):32, Bin/binary>>.

%%% cn_term: one term, no version byte

term_seeds() ->
    Big = lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 200)),
    Terms =
        [atom, 'Ünïcødé', list_to_atom(lists:duplicate(255, $a)),
         list_to_atom(lists:duplicate(255, 16#1F600)), '', true, false, nil,
         0, 255, 256, -1, 1 bsl 31, 1 bsl 62, 1 bsl 64, -(1 bsl 70), 1 bsl 2000, 1.5, -0.0,
         <<>>, <<"bin">>, <<1:3>>, <<0:7>>, "", "string", [1, 2, 3], [a | b], [[], [[]]],
         {}, {a}, {a, b, c}, list_to_tuple(lists:seq(1, 300)), #{}, #{a => 1, "k" => [v]},
         maps:from_list([{I, I} || I <- lists:seq(1, 40)]),
         pid(a(), 7), r0(), ref(5), pid('x@y', 5), fun lists:map/2, local_fun(),
         hd(erlang:ports()), Big,
         {'$gen_cast', {operation_response, r0(), a(), [{c1, {ok, pid(a(), 9)}}, "str"]}},
         {'$gen_call', {pid(a(), 7), [alias | r0()]}, is_partitioned},
         #{'__struct__' => 'Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum',
           quorum_size => 2, startup_confirm => true}],
    Seeds = [{"t" ++ integer_to_list(I), bare(T)} || {I, T} <- enumerate(Terms)],
    %% Old-style encodings the validator must refuse or handle: FLOAT_EXT, ATOM_EXT.
    Seeds ++ [{"old_float", bare_old(1.5)}, {"latin1_atom", <<100, 0, 3, "abc">>},
              {"cache_ref", <<82, 0>>}, {"lying_list", <<108, 255, 255, 255, 255, 106>>}].

%% A closure whose encoding does not change from run to run (an escript's own funs name a
%% module made up at each run): one of erl_eval's.
local_fun() ->
    {ok, Tokens, _} = erl_scan:string("fun() -> ok end."),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, F, _} = erl_eval:exprs(Exprs, []),
    F.

bare_old(T) ->
    B = term_to_binary(T, [{minor_version, 0}]),
    binary_part(B, 1, byte_size(B) - 1).

enumerate(L) -> lists:zip(lists:seq(1, length(L)), L).

%%% cn_dist: a selector byte (how recv cuts the stream), then framed packets

packet(Ctl, Msg) -> <<$p, (ext(Ctl))/binary, (ext(Msg))/binary>>.
packet(Ctl) -> <<$p, (ext(Ctl))/binary>>.

reg_send(From, To, Msg) -> packet({6, From, '', To}, Msg).
reg_send_tt(From, To, Msg) -> packet({16, From, '', To, token}, Msg).
send(To, Msg) -> packet({2, '', To}, Msg).
send_tt(To, Msg) -> packet({12, '', To, token}, Msg).

cast(Ref, Node, Results) -> {'$gen_cast', {operation_response, Ref, Node, Results}}.
call(Tag, Req) -> {'$gen_call', {pid(a(), 7), Tag}, Req}.

dist_packets() ->
    A7 = pid(a(), 7),
    [{"r0_chunk", reg_send(A7, hub0, cast(r0(), a(), [{c1, {ok, A7}}]))},
     {"r1_done", reg_send(A7, any_name, cast(r1(), a(), [{c2, ok}, {c3, ok}]))},
     {"r1_string", reg_send(A7, any_name, cast(r1(), a(), "abc"))},
     {"r0_wrong_hub", reg_send(A7, other_hub, cast(r0(), a(), []))},
     {"spoofed", reg_send(A7, hub0, cast(r0(), b(), []))},
     {"early", reg_send(A7, hub0, cast(ref(99), a(), [x]))},
     {"unknown_node", reg_send(A7, hub0, cast(ref(98), 'zz@h', [x]))},
     {"call_ping", reg_send(A7, hub0, call(ref(50), ping))},
     {"call_alias", reg_send(A7, hub0, call([alias | r0()], is_partitioned))},
     {"call_nested_alias", reg_send(A7, hub0, call([[alias | r0()] | x], status))},
     {"call_subscribe", reg_send(A7, hub0, call(ref(50), {subscribe, pid(b(), 3)}))},
     {"call_unsubscribe", reg_send(A7, hub0, call(ref(50), {unsubscribe, A7}))},
     {"call_unknown_hub", reg_send(A7, nohub, call(ref(50), ping))},
     {"call_other_node_pid", reg_send(A7, hub0, {'$gen_call', {pid('q@h', 1), tag}, status})},
     {"is_auth", reg_send(A7, net_kernel, call(ref(50), {is_auth, a()}))},
     {"tt", reg_send_tt(A7, hub0, cast(r0(), a(), [tt]))},
     {"to_self", send(self_pid(), {ref(50), yes})},
     {"to_self_tt", send_tt(self_pid(), hello)},
     {"link", packet({1, A7, self_pid()})},
     {"monitor", packet({19, A7, hub0, ref(50)})},
     {"alias_send", packet({33, A7, r0()}, hi)},
     {"garbage_msg", reg_send(A7, hub0, {'$gen_cast', garbage})}].

dist_seeds() ->
    Tick = <<0:32>>,
    Pkts = dist_packets(),
    [{"one_" ++ N, <<63, (frame(P))/binary>>} || {N, P} <- Pkts] ++
        [{"all_whole", <<63, (<< <<(frame(P))/binary>> || {_, P} <- Pkts >>)/binary>>},
         {"all_cut_7", <<0, Tick/binary, (<< <<(frame(P))/binary>> || {_, P} <- Pkts >>)/binary>>},
         {"oversized", <<63, 16#7f, 16#ff, 16#ff, 16#ff, "p">>},
         {"ticks", <<5, Tick/binary, Tick/binary, Tick/binary>>}].

%%% cn_ctl: framed commands

strategy(static) ->
    #{'__struct__' => 'Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum',
      quorum_size => 2, startup_confirm => false};
strategy(dynamic) ->
    #{'__struct__' => 'Elixir.ProcessHub.Strategy.PartitionTolerance.DynamicQuorum',
      quorum_size => 50, threshold_time => 30};
strategy(majority) ->
    #{'__struct__' => 'Elixir.ProcessHub.Strategy.PartitionTolerance.MajorityQuorum',
      initial_cluster_size => 3, track_max_size => true};
strategy(divergence) ->
    #{'__struct__' => 'Elixir.ProcessHub.Strategy.PartitionTolerance.Divergence'}.

ctl_commands() ->
    A7 = pid(a(), 7),
    [{register, 10, ref(20), hub0, [{a(), 3}, b(), 'c@h'], 100},
     {register, 11, r0(), hub0, [a()], 100},
     {register, 12, ref(21), undefined, [{a(), 0}], 100},
     {register, 13, ref(22), 'hüb', [a() | b()], 100},
     {cancel, 14, r1()}, {cancel, 15, ref(77)}, {stats, 16}, {connect, 17, 'x@h'},
     {connect, 18, noat}, {hubs, 19},
     {set_hub, 20, hub1, strategy(dynamic), [a(), b()],
      #{state => #{dynamic_quorum_down_nodes => [{a(), 100}], majority_quorum_max_seen => 3},
        partitioned => true}},
     {set_hub, 21, hub2, strategy(majority), [a(), b(), 'fz@h'], #{watch => false}},
     {set_hub, 22, hub3, strategy(divergence), [], #{}},
     {set_hub, 23, hub0, strategy(static), [a()], #{watch => true, other => key}},
     {hub_nodes, 24, hub0, ['fz@h']}, {hub_nodes, 25, hub0, [a(), b(), 'fz@h', a()]},
     {subscribe, 26, hub0, pid(b(), 4)}, {unsubscribe, 27, hub0, A7},
     {status, 28, hub0}, {reset_cluster_size, 29, hub0, 5},
     {sync_quorum_log, 30, hub0, [{a(), 1}, {b(), 2}]}, {remove_hub, 31, hub0},
     {status, 32, nohub}, {no_such_command, 33}, {stats, 34, extra}, {shutdown, 35}].

ctl_seeds() ->
    Cmds = ctl_commands(),
    [{"cmd_" ++ atom_to_list(element(1, C)) ++ "_" ++ integer_to_list(element(2, C)),
      frame(ext(C))} || C <- Cmds] ++
        [{"all", << <<(frame(ext(C)))/binary>> || C <- Cmds >>},
         {"cookie", frame(ext({cookie, <<"secretcookie">>}))},
         {"cookie_nul", frame(ext({cookie, <<"a", 0, "b">>}))},
         {"no_seq", frame(ext({register}))}, {"not_tuple", frame(ext([a, b]))},
         {"oversized", <<16#7f, 0, 0, 0, 131>>}].

%%% cn_session: records <<Kind, Len:16/little, Bytes>>
%%% kinds: 0 command, 1 packet from a@h, 2 packet from b@h, 3 raw bytes from a@h,
%%% 4 time passes (u16 ms), 5 arm an allocation failure, 6 close b@h's connection,
%%% 7 drain the output

rec(Kind, Bin) -> <<Kind, (byte_size(Bin)):16/little, Bin/binary>>.
ctl(Cmd) -> rec(0, ext(Cmd)).
from_a(Msg) -> rec(1, reg_send(pid(a(), 7), hub0, Msg)).
from_b(Msg) -> rec(2, reg_send(pid(b(), 7), hub0, Msg)).
wait(Ms) -> rec(4, <<Ms:16/little>>).

session_seeds() ->
    R2 = ref(30),
    [{"complete_r0", <<(from_a(cast(r0(), a(), [x])))/binary, (from_a(cast(r0(), a(), [y])))/binary,
                      (from_b(cast(r0(), b(), "zz")))/binary>>},
     {"early_then_register",
      <<(from_b(cast(R2, b(), [early])))/binary, (wait(10))/binary,
        (ctl({register, 40, R2, hub0, [b()], 1000}))/binary>>},
     {"expire", <<(from_a(cast(r0(), a(), [x])))/binary, (wait(6000))/binary>>},
     {"early_expires", <<(from_b(cast(R2, b(), [e])))/binary, (wait(200))/binary,
                        (ctl({register, 41, R2, hub0, [b()], 100}))/binary, (wait(150))/binary>>},
     {"verdicts", <<(ctl({hub_nodes, 42, hub0, ['fz@h']}))/binary, (rec(7, <<>>))/binary,
                   (ctl({hub_nodes, 43, hub0, [a(), b(), 'fz@h']}))/binary>>},
     {"lose_b", <<(rec(6, <<>>))/binary, (wait(400))/binary,
                 (from_a({'$gen_call', {pid(a(), 7), ref(50)}, status}))/binary>>},
     {"silence", <<(wait(200))/binary, (wait(200))/binary, (wait(200))/binary>>},
     {"enomem", <<(rec(5, <<3>>))/binary, (from_a(cast(r0(), a(), [x])))/binary,
                 (rec(5, <<16#19, 5, 0>>))/binary, (ctl({register, 44, R2, hub0, [a()], 50}))/binary>>},
     {"cancel", <<(ctl({cancel, 45, r0()}))/binary, (from_a(cast(r0(), a(), [x])))/binary>>},
     {"raw", rec(3, <<0:32, (frame(reg_send(pid(a(), 7), hub0, cast(r1(), a(), []))))/binary>>)}].
