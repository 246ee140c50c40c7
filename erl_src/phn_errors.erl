%% @doc The project's one error convention (docs/errors.md): a public function given a bad
%% argument raises `badarg' with OTP's `error_info', so that the Erlang shell
%% (`erl_error:format_exception/3') and Elixir (`ArgumentError') print which argument is
%% wrong and why:
%% ```
%% exception error: bad argument
%%   in function  phn_cnode:cancel_operation/1
%%      called as phn_cnode:cancel_operation(foo)
%%      *** argument 1: TxRef: not a reference
%% '''
%% The raise itself must happen in the public function (the stack frame that
%% `erlang:error/3' records is the caller's), so a module checks its arguments with
%% {@link check/2} and raises with {@link info/1}; phn_errors.hrl's `?CHECK_ARGS' does both:
%% ```
%% cancel_operation(TxRef) ->
%%     ?CHECK_ARGS([{'TxRef', reference}], [TxRef]),
%%     ...
%% '''
%% Conditions of the running system (the C-node down, an unknown hub, a limit) are not
%% argument errors: they stay `{error, Reason}' returns.
-module(phn_errors).

-export([check/2, info/1, format_error/2, describe/1]).

-export_type([kind/0, cause/0]).

%% What an argument must be. `{options, Kinds}': a map whose every key is one of Kinds'
%% (an unknown key is refused: a typo such as `timeout' for `timeout_ms' is never ignored)
%% with a value of that key's kind.
-type kind() ::
    any | atom | node | reference | pid | map | boolean | integer | number
    | non_neg_integer | pos_integer | timeout | port_number | integer_or_infinity
    | nodes | expected | tracker_expected | quorum_log | strategy | chardata | cookie
    | cnode_args
    | {integer_range, integer(), integer()}
    | {one_of, [term()]}
    | {options, #{atom() => kind()}}.
%% Argument position (or `general') to the argument's name and what is wrong with it.
-type cause() :: #{pos_integer() | general => {atom() | string(), string()}}.

%% @doc `ok' when every argument is of its kind, else the cause naming the first bad one.
%% `Specs' lists each argument's name and kind, in the function's argument order.
-spec check([{atom(), kind()}], [term()]) -> ok | cause().
check(Specs, Args) when length(Specs) =:= length(Args) ->
    first_bad(lists:zip(Specs, Args), 1).

first_bad([], _Pos) -> ok;
first_bad([{{Name, Kind}, Value} | Rest], Pos) ->
    case problem(Kind, Value) of
        ok -> first_bad(Rest, Pos + 1);
        Problem -> #{Pos => {Name, Problem}}
    end.

%% @doc The options of `erlang:error(badarg, Args, Options)' that carry `Cause' to
%% {@link format_error/2}.
-spec info(cause()) -> [{error_info, #{module := module(), cause := cause()}}].
info(Cause) when is_map(Cause) ->
    [{error_info, #{module => ?MODULE, cause => Cause}}].

%% @doc OTP's error_info callback (for every module of the project): the cause of the
%% raising frame as readable text per argument position.
-spec format_error(term(), erlang:stacktrace()) -> #{pos_integer() | general => string()}.
format_error(_Reason, [{_M, _F, _Args, Info} | _]) ->
    case proplists:get_value(error_info, Info, #{}) of
        #{cause := Cause} when is_map(Cause) -> describe(Cause);
        _ -> #{}
    end;
format_error(_Reason, _Stack) ->
    #{}.

%% @doc A cause as text per position (`"TxRef: not a reference"').
-spec describe(cause()) -> #{pos_integer() | general => string()}.
describe(Cause) ->
    maps:map(fun(_Pos, {Name, Problem}) -> lists:flatten(io_lib:format("~ts: ~ts",
                                                                       [name(Name), Problem]));
                (_Pos, Other) -> lists:flatten(io_lib:format("~tp", [Other]))
             end, Cause).

name(Name) when is_atom(Name) -> atom_to_list(Name);
name(Name) -> Name.

%%% The kinds: ok, or what is wrong (the text shown after the argument's name).

problem(any, _) -> ok;
problem(atom, V) -> is(is_atom(V), "not an atom");
problem(node, V) -> is(is_atom(V), "not a node name (an atom)");
problem(reference, V) -> is(is_reference(V), "not a reference");
problem(pid, V) -> is(is_pid(V), "not a pid");
problem(map, V) -> is(is_map(V), "not a map");
problem(boolean, V) -> is(is_boolean(V), "not a boolean");
problem(integer, V) -> is(is_integer(V), "not an integer");
problem(number, V) -> is(is_number(V), "not a number");
problem(non_neg_integer, V) ->
    is(is_integer(V) andalso V >= 0, "not a non-negative integer");
problem(pos_integer, V) -> is(is_integer(V) andalso V > 0, "not a positive integer");
problem(timeout, V) ->
    is(V =:= infinity orelse (is_integer(V) andalso V >= 0),
       "not a timeout (a non-negative integer or infinity)");
problem(integer_or_infinity, V) ->
    is(V =:= infinity orelse is_integer(V), "not an integer or infinity");
problem({integer_range, Lo, Hi}, V) ->
    is(is_integer(V) andalso V >= Lo andalso V =< Hi,
       lists:flatten(io_lib:format("not an integer in ~b..~b", [Lo, Hi])));
problem(port_number, V) ->
    is(is_integer(V) andalso V > 0 andalso V < 65536, "not a TCP port number (1..65535)");
problem(nodes, V) -> is(all(fun is_atom/1, V), "not a proper list of node names (atoms)");
problem(expected, V) ->
    is(V =/= [] andalso all(fun expected_entry/1, V),
       "not a non-empty proper list of Node or {Node, Chunks} (Node an atom, Chunks an "
       "integer in 1..4294967295)");
problem(tracker_expected, V) ->
    %% phn_tracker's Expected: may be empty; Chunks fit 32 bits (the C progress counter).
    is(all(fun tracker_entry/1, V),
       "not a proper list of Node or {Node, Chunks} (Node an atom, Chunks an integer in "
       "1..4294967295)");
problem(quorum_log, V) ->
    is(all(fun({N, T}) -> is_atom(N) andalso is_integer(T); (_) -> false end, V),
       "not a proper list of {Node, UnixSeconds}");
problem(strategy, V) ->
    is(case V of #{'__struct__' := S} -> is_atom(S); _ -> false end,
       "not a partition strategy struct (a map with an atom '__struct__')");
problem(chardata, V) -> is(is_chardata(V), "not a string");
problem(cookie, V) ->
    %% No value in the text: it would print the cookie.
    is(is_atom(V) orelse is_chardata(V), "not an atom, binary or string");
problem(cnode_args, V) ->
    is(is_map(V) andalso
       lists:all(fun({K, A}) -> is_atom(K) andalso
                                    (is_integer(A) orelse is_atom(A) orelse is_chardata(A))
                 end, maps:to_list(V)),
       "not a map of C-node flag names (atoms) to integers, atoms or strings");
problem({one_of, Allowed}, V) ->
    is(lists:member(V, Allowed),
       lists:flatten(["not one of " | lists:join(", ", [io_lib:format("~tp", [A])
                                                          || A <- Allowed])]));
problem({options, _Kinds}, V) when not is_map(V) ->
    "not a map of options";
problem({options, Kinds}, V) ->
    option_problem(lists:sort(maps:to_list(V)), Kinds).

option_problem([], _Kinds) -> ok;
option_problem([{Key, Value} | Rest], Kinds) ->
    case Kinds of
        #{Key := Kind} ->
            case problem(Kind, Value) of
                ok -> option_problem(Rest, Kinds);
                Problem -> lists:flatten(io_lib:format("option ~tp: ~ts", [Key, Problem]))
            end;
        _ ->
            Known = lists:join(", ", [atom_to_list(K) || K <- lists:sort(maps:keys(Kinds))]),
            lists:flatten(io_lib:format("unknown option ~tp (known: ~ts)", [Key, Known]))
    end.

is(true, _Problem) -> ok;
is(false, Problem) -> Problem.

%% A proper list whose every element passes.
all(Pred, [H | T]) -> Pred(H) andalso all(Pred, T);
all(_Pred, []) -> true;
all(_Pred, _) -> false.

%% Chunks fit 32 bits: the C counters (the tracker's progress, the C-node's expectations).
expected_entry(E) -> tracker_entry(E).

tracker_entry({N, C}) -> is_atom(N) andalso is_integer(C) andalso C > 0 andalso C < 1 bsl 32;
tracker_entry(N) -> is_atom(N).

is_chardata(V) when is_binary(V) -> true;
is_chardata(V) when is_list(V) ->
    try unicode:characters_to_binary(V) of
        B -> is_binary(B)
    catch error:_ -> false
    end;
is_chardata(_) -> false.
