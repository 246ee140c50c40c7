%% @doc A PropEr stateful model of phn_tracker: random sequences of track / record /
%% await (peek + take) / get / update / cancel / cleanup / size / stats / owner death run
%% against the NIF and against a plain-Erlang model of the same semantics, and every
%% answer must match. The tracker is owned by a separate process (so that the owner can
%% be killed mid-sequence) and used from the PropEr process. Deadlines are small integers
%% and cleanup is given the clock, so runs are deterministic.
-module(phn_21_tracker_statem_tests).

-include_lib("proper/include/proper.hrl").
-include_lib("eunit/include/eunit.hrl").

-behaviour(proper_statem).

-export([initial_state/0, command/1, precondition/2, postcondition/3, next_state/3]).
-export([setup/0, teardown/0]).
-export([track/4, record/3, record_meta/3, await/1, get_op/1, take/1, cancel/1,
         update_meta/2, set_deadline/2, cleanup/1, size/0, ignored/0, kill_owner/0]).

-define(T, phn_tracker).
-define(REFS, [r1, r2, r3, {r, 4}, <<"r5">>]).
-define(NODES, [a, b, c]).

-record(st, {closed = false :: boolean(),
             ops = #{} :: #{term() => map()},
             ignored = #{unknown_operation => 0, unexpected_node => 0, extra_chunk => 0}}).

statem_test_() ->
    {timeout, 300, fun() ->
        ?assertEqual(true, proper:quickcheck(prop_tracker(),
                                             [{numtests, 400}, {to_file, user}]))
    end}.

prop_tracker() ->
    ?FORALL(Cmds, commands(?MODULE),
            begin
                setup(),
                {History, State, Result} = run_commands(?MODULE, Cmds),
                teardown(),
                ?WHENFAIL(io:format(user, "history: ~p~nstate: ~p~nresult: ~p~n",
                                    [History, State, Result]),
                          aggregate(command_names(Cmds), Result =:= ok))
            end).

%%====================================================================
%% SUT: a tracker owned by another process
%%====================================================================

setup() ->
    Self = self(),
    Owner = spawn(fun() ->
                          Self ! {tracker, ?T:new(#{max_ops => 4, max_nodes_per_op => 5})},
                          receive stop -> ok end
                  end),
    T = receive {tracker, X} -> X end,
    put(phn21_owner, Owner),
    put(phn21_tracker, T).

teardown() ->
    exit(get(phn21_owner), kill),
    erase(phn21_owner),
    erase(phn21_tracker).

t() -> get(phn21_tracker).

track(Ref, Expected, Deadline, Meta) ->
    Opts = case Meta of
               nometa -> #{deadline_ms => Deadline};
               {meta, M} -> #{deadline_ms => Deadline, meta => M}
           end,
    ?T:track(t(), Ref, Expected, Opts).
record(Ref, Node, Results) -> ?T:record(t(), Ref, Node, Results).
record_meta(Ref, Node, Results) -> ?T:record(t(), Ref, Node, Results, #{return_meta => true}).
get_op(Ref) -> ?T:get(t(), Ref).
take(Ref) -> ?T:take(t(), Ref).
cancel(Ref) -> ?T:cancel(t(), Ref).
update_meta(Ref, Meta) -> ?T:update_meta(t(), Ref, Meta).
set_deadline(Ref, D) -> ?T:update(t(), Ref, #{deadline_ms => D}).
cleanup(Now) -> ?T:cleanup_expired(t(), Now).
size() -> ?T:size(t()).
ignored() -> maps:get(ignored, ?T:stats(t())).

%% An await as the drop-in does it: peek (meta and missing count), then take if every
%% node has answered.
await(Ref) ->
    case ?T:peek(t(), Ref) of
        {ok, Meta, 0} -> {answered, Meta, ?T:take(t(), Ref)};
        {ok, Meta, Missing} -> {waiting, Meta, Missing};
        {error, not_found} = E -> E
    end.

%% The owner exits; the tracker closes (its monitor callback runs asynchronously).
kill_owner() ->
    Owner = get(phn21_owner),
    MRef = monitor(process, Owner),
    exit(Owner, kill),
    receive {'DOWN', MRef, process, Owner, _} -> ok end,
    true = phn_watch:wait_until(fun() -> maps:get(closed, ?T:stats(t())) end, 500),
    maps:with([ops, kept_terms, closed], ?T:stats(t())).

%%====================================================================
%% Generators
%%====================================================================

%% Mostly operations that exist and nodes they wait for, so that sequences reach
%% completion, extra chunks and expiry; sometimes anything.
g_ref(#st{ops = Ops}) when map_size(Ops) > 0 ->
    frequency([{6, elements(maps:keys(Ops))}, {1, elements(?REFS)}]);
g_ref(_) ->
    elements(?REFS).

g_ref_node(#st{ops = Ops} = S) when map_size(Ops) > 0 ->
    frequency([{8, ?LET(Ref, elements(maps:keys(Ops)),
                        {Ref, g_node_of(maps:get(Ref, Ops))})},
               {1, {g_ref(S), g_node()}}]);
g_ref_node(S) ->
    {g_ref(S), g_node()}.

g_node_of(#{order := []}) -> g_node();
g_node_of(Op = #{order := Order}) ->
    case missing(Op) of
        [] -> frequency([{4, elements(Order)}, {1, g_node()}]);
        M -> frequency([{6, elements(M)}, {2, elements(Order)}, {1, g_node()}])
    end.

g_node() -> frequency([{8, elements(?NODES)}, {1, d}, {1, "x"}]).
g_expected() ->
    frequency([{8, ?LET(N, range(1, 3), vector(N, oneof([elements(?NODES),
                                                         {elements(?NODES), range(1, 2)}])))},
               {1, list(elements(?NODES))}]).
g_deadline() -> frequency([{6, range(0, 100)}, {1, infinity}]).
g_meta() -> oneof([nometa, {meta, oneof([int(), atom(), list(int()), {int(), binary()}])}]).
g_results() ->
    frequency([{6, list(int())}, {1, atom()}, {1, ?LET({H, T}, {int(), int()}, [H | T])}]).

initial_state() -> #st{}.

command(#st{closed = Closed} = S) ->
    Rec = fun(Name) -> ?LET({Ref, Node}, g_ref_node(S),
                            {call, ?MODULE, Name, [Ref, Node, g_results()]}) end,
    frequency([{5, {call, ?MODULE, track, [elements(?REFS), g_expected(), g_deadline(), g_meta()]}},
               {12, Rec(record)},
               {4, Rec(record_meta)},
               {3, {call, ?MODULE, await, [g_ref(S)]}},
               {2, {call, ?MODULE, get_op, [g_ref(S)]}},
               {1, {call, ?MODULE, take, [g_ref(S)]}},
               {1, {call, ?MODULE, cancel, [g_ref(S)]}},
               {2, {call, ?MODULE, update_meta, [g_ref(S), int()]}},
               {2, {call, ?MODULE, set_deadline, [g_ref(S), range(0, 100)]}},
               {2, {call, ?MODULE, cleanup, [range(0, 110)]}},
               {1, {call, ?MODULE, size, []}},
               {1, {call, ?MODULE, ignored, []}}] ++
              [{1, {call, ?MODULE, kill_owner, []}} || not Closed, map_size(S#st.ops) > 2]).

precondition(#st{closed = Closed}, {call, _, kill_owner, []}) -> not Closed;
precondition(_, _) -> true.

%%====================================================================
%% The model
%%====================================================================

next_state(S, _V, {call, _, track, [Ref, Expected, Deadline, Meta]}) ->
    case model_track(S, Ref, Expected) of
        ok -> S#st{ops = (S#st.ops)#{Ref => new_op(Expected, Deadline, Meta)}};
        _ -> S
    end;
next_state(S, _V, {call, _, Rec, [Ref, Node, Results]}) when Rec =:= record; Rec =:= record_meta ->
    element(2, model_record(S, Ref, Node, Results));
next_state(S, _V, {call, _, await, [Ref]}) ->
    case maps:find(Ref, S#st.ops) of
        {ok, Op} ->
            case missing(Op) of
                [] -> S#st{ops = maps:remove(Ref, S#st.ops)};
                _ -> S
            end;
        error -> S
    end;
next_state(S, _V, {call, _, Drop, [Ref]}) when Drop =:= take; Drop =:= cancel ->
    S#st{ops = maps:remove(Ref, S#st.ops)};
next_state(S, _V, {call, _, update_meta, [Ref, Meta]}) ->
    update_op(S, Ref, fun(Op) -> Op#{meta := Meta} end);
next_state(S, _V, {call, _, set_deadline, [Ref, D]}) ->
    update_op(S, Ref, fun(Op) -> Op#{deadline := D} end);
next_state(S, _V, {call, _, cleanup, [Now]}) ->
    S#st{ops = maps:filter(fun(_, Op) -> not expired(Op, Now) end, S#st.ops)};
next_state(S, _V, {call, _, kill_owner, []}) ->
    S#st{closed = true, ops = #{}};
next_state(S, _V, _Call) ->
    S.

postcondition(S, {call, _, track, [Ref, Expected, _, _]}, Res) ->
    Res =:= model_track(S, Ref, Expected);
postcondition(S, {call, _, record, [Ref, Node, Results]}, Res) ->
    case element(1, model_record(S, Ref, Node, Results)) of
        {complete, Collected, _Meta} -> Res =:= {complete, Collected};
        Other -> Res =:= Other
    end;
postcondition(S, {call, _, record_meta, [Ref, Node, Results]}, Res) ->
    Res =:= element(1, model_record(S, Ref, Node, Results));
postcondition(S, {call, _, await, [Ref]}, Res) ->
    case maps:find(Ref, S#st.ops) of
        error -> Res =:= {error, not_found};
        {ok, Op} ->
            Meta = meta_of(Op),
            case missing(Op) of
                [] -> Res =:= {answered, Meta, {ok, info(Ref, Op)}};
                M -> Res =:= {waiting, Meta, length(M)}
            end
    end;
postcondition(S, {call, _, Fetch, [Ref]}, Res) when Fetch =:= get_op; Fetch =:= take ->
    case maps:find(Ref, S#st.ops) of
        {ok, Op} -> Res =:= {ok, info(Ref, Op)};
        error -> Res =:= {error, not_found}
    end;
postcondition(S, {call, _, Call, [Ref | _]}, Res)
  when Call =:= cancel; Call =:= update_meta; Call =:= set_deadline ->
    case is_map_key(Ref, S#st.ops) of
        true -> Res =:= ok;
        false -> Res =:= {error, not_found}
    end;
postcondition(S, {call, _, cleanup, [Now]}, Res) ->
    Expired = [info(Ref, Op) || {Ref, Op} <- maps:to_list(S#st.ops), expired(Op, Now)],
    Deadlines = [D || #{deadline := D} <- Res],
    %% Earliest first; equal deadlines in any order.
    lists:sort(Res) =:= lists:sort(Expired) andalso Deadlines =:= lists:sort(Deadlines);
postcondition(S, {call, _, size, []}, Res) ->
    Res =:= maps:size(S#st.ops);
postcondition(S, {call, _, ignored, []}, Res) ->
    Res =:= S#st.ignored;
postcondition(_S, {call, _, kill_owner, []}, Res) ->
    Res =:= #{ops => 0, kept_terms => 0, closed => true}.

%%% Model helpers

%% In the NIF's order: the node cap (checked while parsing), closed, already tracked,
%% the operation cap.
model_track(#st{closed = Closed, ops = Ops}, Ref, Expected) ->
    if
        length(Expected) > 5 -> {error, limit};
        Closed -> {error, closed};
        is_map_key(Ref, Ops) -> {error, already_tracked};
        map_size(Ops) >= 4 -> {error, limit};
        true -> ok
    end.

new_op(Expected, Deadline, Meta) ->
    {Order, Owed} = lists:foldl(
                      fun(E, {Ord, Acc}) ->
                              {N, C} = case E of {N0, C0} -> {N0, C0}; N0 -> {N0, 1} end,
                              case is_map_key(N, Acc) of
                                  true -> {Ord, Acc#{N := maps:get(N, Acc) + C}};
                                  false -> {Ord ++ [N], Acc#{N => C}}
                              end
                      end, {[], #{}}, Expected),
    #{order => Order, owed => Owed, got => #{}, deadline => Deadline,
      meta => case Meta of nometa -> undefined; {meta, M} -> M end}.

meta_of(#{meta := M}) -> M.

%% {Result, NextState}; a completion result carries the meta (record_meta's shape).
model_record(S = #st{ignored = Ig}, Ref, Node, Results) ->
    Bump = fun(Why) -> {{ignored, Why}, S#st{ignored = Ig#{Why := maps:get(Why, Ig) + 1}}} end,
    case maps:find(Ref, S#st.ops) of
        error -> Bump(unknown_operation);
        {ok, #{owed := Owed, got := Got} = Op} ->
            case maps:find(Node, Owed) of
                error -> Bump(unexpected_node);
                {ok, C} ->
                    Chunks = maps:get(Node, Got, []),
                    case length(Chunks) >= C of
                        true -> Bump(extra_chunk);
                        false ->
                            Op1 = Op#{got := Got#{Node => Chunks ++ [Results]}},
                            case missing(Op1) of
                                [] ->
                                    {{complete, collected(Op1), meta_of(Op1)},
                                     S#st{ops = maps:remove(Ref, S#st.ops)}};
                                M ->
                                    {{pending, length(M)}, S#st{ops = (S#st.ops)#{Ref := Op1}}}
                            end
                    end
            end
    end.

missing(#{order := Order, owed := Owed, got := Got}) ->
    [N || N <- Order, length(maps:get(N, Got, [])) < maps:get(N, Owed)].

collected(#{order := Order, got := Got}) ->
    [{N, concat(maps:get(N, Got))} || N <- Order, is_map_key(N, Got)].

concat([Only]) -> Only;
concat(Chunks) ->
    lists:foldr(fun(C, Acc) ->
                        case is_proper_list(C) of
                            true -> C ++ Acc;
                            false -> [C | Acc]
                        end
                end, [], Chunks).

is_proper_list(L) when is_list(L) ->
    try length(L) of _ -> true catch error:badarg -> false end;
is_proper_list(_) ->
    false.

info(Ref, #{deadline := D} = Op) ->
    #{ref => Ref, meta => meta_of(Op), collected => collected(Op), missing => missing(Op),
      deadline => D}.

expired(#{deadline := infinity}, _Now) -> false;
expired(#{deadline := D}, Now) -> Now > D.

update_op(S, Ref, F) ->
    case maps:find(Ref, S#st.ops) of
        {ok, Op} -> S#st{ops = (S#st.ops)#{Ref := F(Op)}};
        error -> S
    end.
