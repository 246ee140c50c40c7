%% @doc Tracker mode of the drop-in `phn_request_manager': its state functions when the
%% coordinator state's `pending_operations' is `{phn_pending, Tracker, Ops, Due, Limits}'
%% (or a bare `phn_tracker', which the first state function wraps so; or, after
%% `take_over/2' of a map state, `{phn_pending, Tracker, Ops, Due, Limits, Legacy}' until
%% the map's operations are gone).
%%
%% The work is split by what each side does best:
%% <ul>
%% <li>`Ops' (`#{TxRef => Entry}', on the process heap) holds each operation itself, the
%%   very term that was stored, and the responses counted so far, newest first
%%   (`[{Node, Results}]'): a response is prepended, never copied.</li>
%% <li>An operation that waits for many nodes (more than `heap_max_nodes' of `Limits',
%%   see `pending/2') is counted by `Tracker' (a `phn_tracker'), which holds only
%%   bookkeeping: its key, the nodes it waits for with their chunk counters, and its
%%   deadline. It decides when the operation is complete, ignores strays and duplicates,
%%   and finds the expired ones in O(k log n). Its entry is `{Op, Responses}'.</li>
%% <li>An operation that waits for a few nodes is counted on the heap, where a NIF call
%%   would cost more than the work it saves: its entry is `{Op, Responses, Owed,
%%   Deadline}', `Owed' the chunks each node still owes (`#{Node => pos_integer()}', a
%%   node leaving it when it has given all). `Due' (`#{Deadline => [TxRef]}') indexes
%%   these operations by deadline, so that `cleanup_expired' visits deadlines, not
%%   operations.</li>
%% </ul>
%% Both kinds behave the same: the outcomes below are the tracker's, and the tests run
%% every case with each kind.
%%
%% An operation expects one response per split chunk of each sub-request
%% (`phn_request_manager:split/1', so a node sent 2500 children owes 3), from the nodes of
%% `nodes_data' that are not yet in `completed_nodes'. Reads and completion give the
%% operation with the responses merged in once, exactly where map mode would have put
%% them, so the handlers' `aggregate_results/1' and `post_process/3' work unchanged.
%%
%% `Ops' decides existence: a reference it lacks is unknown, and the tracker's entry for
%% it (left by a caller that went back to an older state) is cancelled when met. A native
%% entry that the tracker no longer knows is unknown too, and dropped from the map by the
%% function that meets it.
%%
%% Two outcomes differ from map mode, on purpose (the fixes of DESIGN.md):
%% <ul>
%% <li>A node that answers in several chunks completes only when all have arrived, and its
%%   sub-request carries all the chunks' results (map mode completes on the first chunk and
%%   loses the others).</li>
%% <li>A response from a node outside the operation is ignored (counted in
%%   `phn_tracker:stats/1' for the tracker's operations), so the operation still
%%   completes when its nodes have answered (map mode can then never complete by
%%   responses).</li>
%% </ul>
-module(phn_rm_tracker).

-export([store/2,
         update/2,
         get/2,
         remove/2,
         cleanup_expired/2,
         handle_response/4,
         handle_await/3,
         handle_timeout/3,
         tracker/1,
         pending/2,
         take_over/2,
         expected/1,
         view/1]).

-export_type([pending/0]).

-include("phn_errors.hrl").

-define(P, phn_pending).
-define(MAPSET, 'Elixir.MapSet').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP_REQ, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').
-define(PIDS_REGISTER_REQ, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').
-define(PIDS_UNREGISTER_REQ, 'Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').
%% phn_request_manager:split/1's batch sizes (ProcessHub's).
-define(MAX_CHILDREN_PER_REQUEST, 1000).
-define(MAX_PIDS_PER_REQUEST, 10000).
-define(DEFAULT_FUTURE_TIMEOUT, 5000).
%% Operations waiting for at most this many distinct nodes are counted on the heap
%% (measured: bench/NOTES.md, "Heap or tracker"; BENCHMARKS.md).
-define(HEAP_MAX_NODES, 32).

-type deadline() :: integer() | infinity.
-type entry() :: {Op :: map(), Responses :: [{node(), term()}]}
               | {Op :: map(), Responses :: [{node(), term()}],
                  Owed :: #{node() => pos_integer()}, deadline()}.
-type due() :: #{integer() => [term()]}.
-type limits() :: {MaxOps :: pos_integer(), HeapMaxNodes :: non_neg_integer()}.
-type pending() :: {phn_pending, phn_tracker:tracker(), #{term() => entry()}, due(), limits()}
                 | {phn_pending, phn_tracker:tracker(), #{term() => entry()}, due(), limits(),
                    Legacy :: #{term() => map()}}.
%% A state tracker mode is given (a bare tracker, or the layout of an earlier version, is
%% converted by the first call) and the state it returns.
-type tstate() :: #{pending_operations := pending() | phn_tracker:tracker() | tuple(), _ => _}.
-type wrapped() :: #{pending_operations := pending(), _ => _}.

%%====================================================================
%% State management
%%====================================================================

%% @doc Track the operation (or, already tracked, replace the operation and its deadline,
%% keeping the responses counted: `store' and `update' are the same, as in map mode).
%% Past the tracker's caps this raises `{phn_tracker, limit}'; on a closed tracker
%% `{phn_tracker, closed}'.
-spec store(tstate(), map()) -> wrapped().
store(#{pending_operations := {?P, T, Ops, Due, Lim}} = State, Op) ->
    Ref = maps:get(transaction_id, Op),
    Deadline = deadline(maps:get(expires_at, Op)),
    case Ops of
        #{Ref := {_Old, Responses, Owed, D0}} ->
            wrap(State, T, Ops#{Ref := {Op, Responses, Owed, Deadline}},
                 due_move(Due, Ref, D0, Deadline), Lim);
        #{Ref := {_Old, Responses}} ->
            case phn_tracker:update(T, Ref, #{deadline_ms => Deadline}) of
                ok -> wrap(State, T, Ops#{Ref := {Op, Responses}}, Due, Lim);
                {error, not_found} -> add(State, T, maps:remove(Ref, Ops), Due, Lim, Ref, Op, Deadline)
            end;
        _ ->
            add(State, T, Ops, Due, Lim, Ref, Op, Deadline)
    end;
store(#{pending_operations := {?P, _, _, _, _, Legacy}} = State, Op) ->
    case is_map_key(maps:get(transaction_id, Op), Legacy) of
        true -> as_state(legacy(State, fun(S) -> phn_rm_common:store(S, Op) end));
        false -> as_state(tracked(State, fun(S) -> store(S, Op) end))
    end;
store(State, Op) ->
    store(convert(State), Op).

-spec update(tstate(), map()) -> wrapped().
update(State, Op) ->
    store(State, Op).

%% @doc The operation with the responses counted so far merged in (see `view/1'), or
%% `nil'. With nothing counted it is the very term stored.
-spec get(map(), term()) -> map() | nil.
get(#{pending_operations := {?P, T, Ops, _, _}}, Ref) ->
    case Ops of
        #{Ref := {Op, Responses, Owed, _}} ->
            merge(Op, collect(Responses), maps:keys(Owed));
        #{Ref := {Op, Responses}} ->
            case phn_tracker:get(T, Ref) of
                {ok, #{missing := Missing}} -> merge(Op, collect(Responses), Missing);
                {error, not_found} -> nil
            end;
        _ ->
            nil
    end;
get(#{pending_operations := {?P, T, Ops, Due, Lim, Legacy}} = State, Ref) ->
    case Legacy of
        #{Ref := Op} -> Op;
        _ -> get(State#{pending_operations := {?P, T, Ops, Due, Lim}}, Ref)
    end;
get(State, Ref) ->
    get(convert(State), Ref).

-spec remove(tstate(), term()) -> wrapped().
remove(#{pending_operations := {?P, T, Ops, Due, Lim}} = State, Ref) ->
    case Ops of
        #{Ref := {_, _, _, D}} ->
            wrap(State, T, maps:remove(Ref, Ops), due_del(Due, D, Ref), Lim);
        #{Ref := _} ->
            _ = phn_tracker:cancel(T, Ref),
            wrap(State, T, maps:remove(Ref, Ops), Due, Lim);
        _ ->
            forget(T, Ref),
            State
    end;
remove(#{pending_operations := {?P, _, _, _, _, Legacy}} = State, Ref) ->
    case is_map_key(Ref, Legacy) of
        true -> as_state(legacy(State, fun(S) -> phn_rm_common:remove(S, Ref) end));
        false -> as_state(tracked(State, fun(S) -> remove(S, Ref) end))
    end;
remove(State, Ref) ->
    remove(convert(State), Ref).

%% @doc Drops the expired operations (no replies, no finalize, as in map mode): the
%% tracker finds its own by its heap and names them (`phn_tracker:take_expired/2': their
%% refs only), `Due' names the heap-counted ones by their deadlines; the map lets them go.
-spec cleanup_expired(tstate(), integer()) -> wrapped().
cleanup_expired(#{pending_operations := {?P, T, Ops, Due, Lim}} = State, NowMs) ->
    Ops1 = case phn_tracker:take_expired(T, NowMs) of
               [] -> Ops;
               Refs -> lists:foldl(fun drop_tracked/2, Ops, Refs)
           end,
    case due_take(Due, NowMs) of
        none when Ops1 =:= Ops -> State;
        none -> wrap(State, T, Ops1, Due, Lim);
        %% maps:remove/2 one by one: half the time of maps:without/2 (OTP 25, measured:
        %% 1 000 keys out of 100 000, 184 against 418 us).
        {Expired, Due1} -> wrap(State, T, lists:foldl(fun maps:remove/2, Ops1, Expired), Due1, Lim)
    end;
cleanup_expired(#{pending_operations := {?P, _, _, _, _, _}} = State, NowMs) ->
    State1 = as_state(legacy(State, fun(S) -> phn_request_manager:cleanup_expired(S, NowMs) end)),
    as_state(tracked(State1, fun(S) -> cleanup_expired(S, NowMs) end));
cleanup_expired(State, NowMs) ->
    cleanup_expired(convert(State), NowMs).

%% A reference the tracker found expired leaves the map if the map's entry is the
%% tracker's (a heap-counted entry under the same reference is not: the tracker's was a
%% leftover of an older state).
drop_tracked(Ref, Ops) ->
    case Ops of
        #{Ref := {_, _}} -> maps:remove(Ref, Ops);
        _ -> Ops
    end.

%%====================================================================
%% GenServer handlers
%%====================================================================

%% @doc Counts the response and keeps its results beside the operation; on completion
%% merges every chunk's results in, finalizes, replies to the awaiter if any, and the
%% operation is gone. Unknown operations, unexpected nodes and extra chunks are ignored.
-spec handle_response(tstate(), term(), term(), term()) -> {noreply, wrapped()}.
handle_response(#{pending_operations := {?P, T, Ops, _, _} = P} = State, Ref, Node, Results) ->
    %% The map first: a Ref a cluster member made up (any term, a fun, a huge one) never
    %% reaches the NIF's key checks, and costs one map lookup.
    case Ops of
        #{Ref := {_, _, _, _} = Entry} -> count_on_heap(State, P, Ref, Entry, Node, Results);
        #{Ref := Entry} -> count_response(State, P, Ref, Entry, Node, Results);
        _ -> forget(T, Ref), {noreply, State}
    end;
handle_response(#{pending_operations := {?P, _, _, _, _, Legacy}} = State, Ref, Node, Results) ->
    case is_map_key(Ref, Legacy) of
        true -> as_noreply(legacy(State, fun(S) -> phn_request_manager:handle_response(S, Ref, Node, Results) end));
        false -> as_noreply(tracked(State, fun(S) -> handle_response(S, Ref, Node, Results) end))
    end;
handle_response(State, Ref, Node, Results) ->
    handle_response(convert(State), Ref, Node, Results).

count_response(State, {?P, T, Ops, Due, Lim}, Ref, {Op, Responses}, Node, Results) ->
    case phn_tracker:count(T, Ref, Node) of
        {pending, _} ->
            {noreply, wrap(State, T, Ops#{Ref := {Op, [{Node, Results} | Responses]}}, Due, Lim)};
        complete ->
            Op1 = complete(Op, [{Node, Results} | Responses]),
            phn_rm_common:finalize_and_reply(Op1, State),
            {noreply, wrap(State, T, maps:remove(Ref, Ops), Due, Lim)};
        {ignored, unknown_operation} -> % the map held it, the tracker did not: let it go
            {noreply, wrap(State, T, maps:remove(Ref, Ops), Due, Lim)};
        {ignored, _UnexpectedNodeOrExtraChunk} ->
            {noreply, State}
    end.

%% What the tracker's count/3 does, on the heap: a node owing its last chunk leaves Owed,
%% the last node completes; a node that owes nothing (outside the operation, or done)
%% is ignored.
count_on_heap(State, {?P, T, Ops, Due, Lim}, Ref, {Op, Responses, Owed, D}, Node, Results) ->
    case Owed of
        #{Node := 1} when map_size(Owed) =:= 1 ->
            Op1 = complete(Op, [{Node, Results} | Responses]),
            phn_rm_common:finalize_and_reply(Op1, State),
            {noreply, wrap(State, T, maps:remove(Ref, Ops), due_del(Due, D, Ref), Lim)};
        #{Node := 1} ->
            Entry = {Op, [{Node, Results} | Responses], maps:remove(Node, Owed), D},
            {noreply, wrap(State, T, Ops#{Ref := Entry}, Due, Lim)};
        #{Node := N} ->
            Entry = {Op, [{Node, Results} | Responses], Owed#{Node := N - 1}, D},
            {noreply, wrap(State, T, Ops#{Ref := Entry}, Due, Lim)};
        _ ->
            {noreply, State}
    end.

%% A Ref the map does not hold: drop what the tracker may still hold under it (an older
%% state's operation), whatever the term (a key the tracker refuses is none of its own).
forget(T, Ref) ->
    try phn_tracker:cancel(T, Ref) of
        _ -> ok
    catch
        error:badarg -> ok
    end.

%% @doc As map mode: answered now (finalized, removed) when every node has answered or the
%% operation's `timeout' option is 0; otherwise the awaiter is stored and an
%% `{await_timeout, Ref, From}' timer started.
-spec handle_await(tstate(), term(), {pid(), term()}) ->
          {reply, term(), wrapped()} | {noreply, wrapped()}.
handle_await(#{pending_operations := {?P, T, Ops, Due, Lim}} = State, Ref, From) ->
    case Ops of
        #{Ref := {Op, Responses, Owed, D}} ->
            case map_size(Owed) =:= 0 orelse timeout(Op) == 0 of
                true ->
                    Op1 = merge(Op, collect(Responses), maps:keys(Owed)),
                    {reply, phn_rm_common:finalize(Op1, State),
                     wrap(State, T, maps:remove(Ref, Ops), due_del(Due, D, Ref), Lim)};
                false ->
                    Op1 = phn_rm_common:set_awaiter(Op, From),
                    _ = erlang:send_after(timeout(Op), self(), {await_timeout, Ref, From}),
                    {noreply, wrap(State, T, Ops#{Ref := {Op1, Responses, Owed, D}}, Due, Lim)}
            end;
        #{Ref := {Op, Responses}} ->
            case phn_tracker:peek(T, Ref) of
                {ok, _, Missing} ->
                    case Missing =:= 0 orelse timeout(Op) == 0 of
                        true ->
                            State1 = wrap(State, T, maps:remove(Ref, Ops), Due, Lim),
                            case phn_tracker:take(T, Ref) of
                                {ok, #{missing := Nodes}} ->
                                    Op1 = merge(Op, collect(Responses), Nodes),
                                    {reply, phn_rm_common:finalize(Op1, State), State1};
                                {error, not_found} -> % taken meanwhile by another process
                                    {reply, {error, pending_request_not_found}, State1}
                            end;
                        false ->
                            Op1 = phn_rm_common:set_awaiter(Op, From),
                            _ = erlang:send_after(timeout(Op), self(), {await_timeout, Ref, From}),
                            {noreply, wrap(State, T, Ops#{Ref := {Op1, Responses}}, Due, Lim)}
                    end;
                {error, not_found} ->
                    {reply, {error, pending_request_not_found},
                     wrap(State, T, maps:remove(Ref, Ops), Due, Lim)}
            end;
        _ ->
            forget(T, Ref),
            {reply, {error, pending_request_not_found}, State}
    end;
handle_await(#{pending_operations := {?P, _, _, _, _, Legacy}} = State, Ref, From) ->
    case is_map_key(Ref, Legacy) of
        true -> as_reply(legacy(State, fun(S) -> phn_request_manager:handle_await(S, Ref, From) end));
        false -> as_reply(tracked(State, fun(S) -> handle_await(S, Ref, From) end))
    end;
handle_await(State, Ref, From) ->
    handle_await(convert(State), Ref, From).

%% The operation's `timeout' option (ms to wait for an awaiter), raising as map mode on
%% options that are not a keyword list.
timeout(Op) ->
    phn_rm_common:kw_get(timeout, maps:get(options, Op), ?DEFAULT_FUTURE_TIMEOUT).

%% @doc As map mode: if `From' is the operation's awaiter, reply with the finalized
%% (partial) result and remove the operation; otherwise nothing.
-spec handle_timeout(tstate(), term(), {pid(), term()}) -> {noreply, wrapped()}.
handle_timeout(#{pending_operations := {?P, T, Ops, Due, Lim}} = State, Ref, From) ->
    case Ops of
        #{Ref := {Op, Responses, Owed, D}} ->
            case maps:get(awaiter, Op) == From of
                true ->
                    Op1 = merge(Op, collect(Responses), maps:keys(Owed)),
                    gen_server:reply(From, phn_rm_common:finalize(Op1, State)),
                    {noreply, wrap(State, T, maps:remove(Ref, Ops), due_del(Due, D, Ref), Lim)};
                false ->
                    {noreply, State}
            end;
        #{Ref := {Op, Responses}} ->
            case maps:get(awaiter, Op) == From of
                true ->
                    case phn_tracker:take(T, Ref) of
                        {ok, #{missing := Nodes}} ->
                            Op1 = merge(Op, collect(Responses), Nodes),
                            gen_server:reply(From, phn_rm_common:finalize(Op1, State));
                        {error, not_found} ->
                            lost(T, Op, Responses, From, State)
                    end,
                    {noreply, wrap(State, T, maps:remove(Ref, Ops), Due, Lim)};
                false ->
                    {noreply, State}
            end;
        _ ->
            forget(T, Ref),
            {noreply, State}
    end;
handle_timeout(#{pending_operations := {?P, _, _, _, _, Legacy}} = State, Ref, From) ->
    case is_map_key(Ref, Legacy) of
        true -> as_noreply(legacy(State, fun(S) -> phn_request_manager:handle_timeout(S, Ref, From) end));
        false -> as_noreply(tracked(State, fun(S) -> handle_timeout(S, Ref, From) end))
    end;
handle_timeout(State, Ref, From) ->
    handle_timeout(convert(State), Ref, From).

%% The tracker no longer has an operation whose awaiter timed out. Closed under it: nobody
%% answered, so the awaiter gets what arrived, no node counted as done. Open: it
%% completed or was taken from another state, which answered the awaiter.
lost(T, Op, Responses, From, State) ->
    case phn_tracker:stats(T) of
        #{closed := true} ->
            Collected = collect(Responses),
            Op1 = merge(Op, Collected, maps:keys(Collected)),
            gen_server:reply(From, phn_rm_common:finalize(Op1, State));
        #{closed := false} ->
            ok
    end.

%% @doc The `phn_tracker' of a tracker-mode state (wrapped or bare), e.g. for
%% `phn_tracker:stats/1'.
-spec tracker(map()) -> phn_tracker:tracker().
tracker(#{pending_operations := P}) when is_tuple(P), element(1, P) =:= ?P -> element(2, P);
tracker(#{pending_operations := T}) when is_reference(T) -> T.

%% @doc An empty tracker-mode layout on `Tracker', for a coordinator's
%% `pending_operations' (a bare tracker there gets the defaults). `heap_max_nodes':
%% operations waiting for at most this many distinct nodes are counted on the heap, the
%% others by the tracker (default 32, measured; 0 puts every operation in the tracker).
%% Raises `badarg' on a closed tracker or a bad option.
-spec pending(phn_tracker:tracker(), #{heap_max_nodes => non_neg_integer()}) -> pending().
pending(Tracker, Opts) ->
    ?CHECK_ARGS([{'Tracker', any}, {'Opts', {options, #{heap_max_nodes => non_neg_integer}}}],
                [Tracker, Opts]),
    {?P, Tracker, #{}, #{}, limits(Tracker, maps:get(heap_max_nodes, Opts, ?HEAP_MAX_NODES))}.

%% @doc `store/2' on a state whose `pending_operations' is a map, in the default mode
%% `tracker' (`phn_request_manager:set_default_mode/1'): an operation the map holds is
%% stored there (it finishes in map mode); any other takes the state over to tracker mode,
%% with a new tracker owned by the calling process. The operations of the map stay
%% beside it as `{phn_pending, Tracker, Ops, Due, Limits, Legacy}', handled in map mode
%% until the last is gone, when the layout becomes `{phn_pending, Tracker, Ops, Due, Limits}'.
-spec take_over(#{pending_operations := map(), _ => _}, map()) -> wrapped().
take_over(#{pending_operations := Map} = State, Op) when is_map(Map) ->
    case is_map_key(maps:get(transaction_id, Op), Map) of
        true ->
            phn_rm_common:store(State, Op);
        false ->
            T = phn_tracker:new(),
            Pending = {?P, T, #{}, #{}, limits(T, ?HEAP_MAX_NODES)},
            store(State#{pending_operations := with_legacy(Pending, Map)}, Op)
    end.

%%====================================================================
%% The operation <-> tracker mapping
%%====================================================================

%% @doc What an operation waits for: the distinct nodes of `nodes_data' (in order) not in
%% `completed_nodes', each owing the number of split chunks of its sub-requests (at least
%% one, as a node without a sub-request still answers once in map mode).
-spec expected(map()) -> [{node(), pos_integer()}].
expected(#{nodes_data := NodesData, sub_requests := Subs, completed_nodes := Completed})
  when is_list(NodesData), is_list(Subs) ->
    Done = mapset_map(Completed),
    Chunks = lists:foldl(fun(Sub, Acc) ->
                                 Node = maps:get(node, Sub),
                                 N = chunks(Sub),
                                 maps:update_with(Node, fun(C) -> C + N end, N, Acc)
                         end, #{}, Subs),
    {Expected, _} =
        lists:foldl(fun({Node, _Children}, {Acc, Seen}) ->
                            case is_map_key(Node, Seen) orelse is_map_key(Node, Done) of
                                true -> {Acc, Seen};
                                false -> {[{Node, max(1, maps:get(Node, Chunks, 0))} | Acc],
                                          Seen#{Node => true}}
                            end
                    end, {[], #{}}, NodesData),
    lists:reverse(Expected).

%% @doc The operation of a tracker info (`#{meta := Op, collected := [{Node, Results}],
%% missing := [Node]}', as `phn_tracker:get/2' or a C-node completion gives it) with the
%% results merged in: the first sub-request of each node that answered gets the node's
%% results (further sub-requests of the same node get `[]', so that nothing is counted
%% twice), `status => completed' unless the node is in `missing', and those nodes join
%% `completed_nodes'. With nothing collected the operation is returned as it is.
-spec view(#{meta := map(), collected := [{node(), term()}], missing := [node()],
             _ => _}) -> map().
view(#{meta := Op, collected := Collected, missing := Missing}) ->
    merge(Op, maps:from_list(Collected), Missing).

%%====================================================================
%% Internals
%%====================================================================

%% A bare tracker becomes an empty tracker-mode layout with the default limits; the
%% layouts of earlier versions (every operation in the tracker) take the current one.
convert(#{pending_operations := {?P, T, Ops}} = State) ->
    State#{pending_operations := {?P, T, Ops, #{}, limits(T, ?HEAP_MAX_NODES)}};
convert(#{pending_operations := {?P, T, Ops, Legacy}} = State) ->
    State#{pending_operations := with_legacy({?P, T, Ops, #{}, limits(T, ?HEAP_MAX_NODES)},
                                             Legacy)};
convert(#{pending_operations := T} = State) -> % a bare tracker (stats/1 raises on others)
    State#{pending_operations := {?P, T, #{}, #{}, limits(T, ?HEAP_MAX_NODES)}}.

%% The tracker's caps, read once per layout: the heap side keeps to them too.
limits(T, HeapMaxNodes) ->
    case phn_tracker:stats(T) of
        #{closed := false, max_ops := MaxOps, max_nodes_per_op := MaxNodes} ->
            {MaxOps, min(HeapMaxNodes, MaxNodes)};
        #{closed := true} ->
            error({phn_tracker, closed})
    end.

wrap(State, T, Ops, Due, Lim) ->
    State#{pending_operations := {?P, T, Ops, Due, Lim}}.

with_legacy(Pending, Legacy) when map_size(Legacy) =:= 0 -> Pending;
with_legacy({?P, T, Ops, Due, Lim}, Legacy) -> {?P, T, Ops, Due, Lim, Legacy}.

%% Fun on the legacy map as a map-mode state, or on the tracked part as a tracker-mode
%% state; Fun returns a state, {noreply, State} or {reply, Reply, State}.
legacy(#{pending_operations := {?P, T, Ops, Due, Lim, Legacy}} = State, Fun) ->
    rewrap(Fun(State#{pending_operations := Legacy}),
           fun(#{pending_operations := Legacy1} = S) ->
                   S#{pending_operations := with_legacy({?P, T, Ops, Due, Lim}, Legacy1)}
           end).

tracked(#{pending_operations := {?P, T, Ops, Due, Lim, Legacy}} = State, Fun) ->
    rewrap(Fun(State#{pending_operations := {?P, T, Ops, Due, Lim}}),
           fun(#{pending_operations := Pending} = S) ->
                   S#{pending_operations := with_legacy(Pending, Legacy)}
           end);
tracked(State, Fun) -> % the legacy map emptied on the way
    Fun(State).

rewrap({noreply, S}, Put) -> {noreply, Put(S)};
rewrap({reply, Reply, S}, Put) -> {reply, Reply, Put(S)};
rewrap(S, Put) -> Put(S).

%% What legacy/2 and tracked/2 return, narrowed to what each caller's Fun gives (a state,
%% {noreply, State}, or either reply of handle_await), so that the types say so too.
as_state(S) when is_map(S) -> S.
as_noreply({noreply, _} = R) -> R.
as_reply({reply, _, _} = R) -> R;
as_reply({noreply, _} = R) -> R.

%% A new entry: on the heap when the operation waits for at most HeapMaxNodes distinct
%% nodes (all atoms, as the tracker wants them), else in the tracker too. Either way the
%% tracker's caps hold for the whole map.
add(_State, _T, Ops, _Due, {MaxOps, _}, _Ref, _Op, _Deadline) when map_size(Ops) >= MaxOps ->
    error({phn_tracker, limit});
add(State, T, Ops, Due, {_, HeapMaxNodes} = Lim, Ref, Op, Deadline) ->
    Owed = owed(Op), % one walk, for either side
    case on_heap(Owed, Op, HeapMaxNodes) of
        {ok, OwedMap} ->
            wrap(State, T, Ops#{Ref => {Op, [], OwedMap, Deadline}}, due_add(Due, Deadline, Ref),
                 Lim);
        tracker ->
            track(T, Ref, Op, Owed, Deadline),
            wrap(State, T, Ops#{Ref => {Op, []}}, Due, Lim)
    end.

%% A new entry in the tracker. A tracker entry the map did not know is a leftover of an
%% older state: replaced.
track(T, Ref, Op, Owed, Deadline) ->
    Opts = #{deadline_ms => Deadline},
    Result = case Owed of
                 {aligned, List} ->
                     case track_new(T, Ref, List, Opts) of
                         %% Repeated nodes in the list may pass the cap where the
                         %% distinct ones do not: as expected/1 says.
                         {error, limit} -> track_new(T, Ref, expected(Op), Opts);
                         Other -> Other
                     end;
                 general ->
                     track_new(T, Ref, expected(Op), Opts)
             end,
    case Result of
        ok -> ok;
        {error, Reason} -> error({phn_tracker, Reason})
    end.

track_new(T, Ref, Expected, Opts) ->
    case phn_tracker:track(T, Ref, Expected, Opts) of
        {error, already_tracked} ->
            _ = phn_tracker:cancel(T, Ref),
            phn_tracker:track(T, Ref, Expected, Opts);
        Other ->
            Other
    end.

%% What the operation owes as `#{Node => Chunks}' (owed/1's list, or expected/1, as a
%% map: a node listed twice owes the sum, as the tracker counts it) when that is 1 to Max
%% atoms, else `tracker' (which then counts it, or refuses what it must refuse: a node
%% that is not an atom; or, with nothing to wait for, tracks it as it always did).
on_heap(_Owed, _Op, 0) -> tracker;
on_heap({aligned, Owed}, _Op, Max) -> owed_map(Owed, #{}, Max);
on_heap(general, Op, Max) -> owed_map(expected(Op), #{}, Max).

owed_map([{Node, N} | Rest], Acc, Max) when is_atom(Node) ->
    case Acc of
        #{Node := C} -> owed_map(Rest, Acc#{Node := C + N}, Max);
        _ when map_size(Acc) < Max -> owed_map(Rest, Acc#{Node => N}, Max);
        _ -> tracker
    end;
owed_map([], Acc, _Max) when map_size(Acc) > 0 ->
    {ok, Acc};
owed_map(_, _Acc, _Max) ->
    tracker.

%% Due: the heap-counted operations by deadline (`infinity' is not indexed).
due_add(Due, infinity, _Ref) ->
    Due;
due_add(Due, D, Ref) ->
    case Due of
        #{D := Refs} -> Due#{D := [Ref | Refs]};
        _ -> Due#{D => [Ref]}
    end.

due_del(Due, infinity, _Ref) ->
    Due;
due_del(Due, D, Ref) ->
    case Due of
        #{D := [Ref]} -> maps:remove(D, Due);
        #{D := Refs} -> Due#{D := lists:delete(Ref, Refs)};
        _ -> Due
    end.

due_move(Due, _Ref, D, D) -> Due;
due_move(Due, Ref, D0, D1) -> due_add(due_del(Due, D0, Ref), D1, Ref).

%% The references whose deadline is below NowMs (strictly, as `Now > expires_at') and Due
%% without them, or `none'. One pass over the distinct deadlines, which allocates only
%% for the expired ones.
due_take(Due, _NowMs) when map_size(Due) =:= 0 ->
    none;
due_take(Due, NowMs) ->
    case maps:fold(fun(D, Refs, Acc) when D < NowMs -> [{D, Refs} | Acc];
                      (_D, _Refs, Acc) -> Acc
                   end, [], Due) of
        [] -> none;
        Expired ->
            {lists:append([Refs || {_, Refs} <- Expired]),
             maps:without([D || {D, _} <- Expired], Due)}
    end.

%% What the operation waits for (the tracker is told this list; on_heap/3 makes a map of
%% it), in one walk without maps when the sub-requests
%% follow nodes_data one to one (as the handlers' compose builds them): each node of
%% nodes_data not in completed_nodes with its sub-request's chunks. A node listed twice
%% is then listed twice, and the tracker sums (phn_tracker:track/4), which is what
%% expected/1 gives; otherwise `general' (expected/1 itself).
owed(#{nodes_data := NodesData, sub_requests := Subs, completed_nodes := Completed})
  when is_list(NodesData), is_list(Subs) ->
    owed(NodesData, Subs, mapset_map(Completed), []);
owed(_) ->
    general.

owed([{Node, _} | NodesData], [#{node := Node} = Sub | Subs], Done, Acc) ->
    N = chunks(Sub), % for every sub-request, so that a bad one raises as in expected/1
    case Done of
        #{Node := _} -> owed(NodesData, Subs, Done, Acc);
        _ -> owed(NodesData, Subs, Done, [{Node, N} | Acc])
    end;
owed([], [], _Done, Acc) ->
    {aligned, lists:reverse(Acc)};
owed(_, _, _, _) ->
    general.

%% How many responses a sub-request owes: the length of phn_request_manager:split/1's
%% result, counted without building the chunks.
chunks(#{'__struct__' := S, children := Children})
  when (S =:= ?START_REQ orelse S =:= ?STOP_REQ), is_list(Children) ->
    case within(Children, ?MAX_CHILDREN_PER_REQUEST) of
        true -> 1;
        false -> batches(length(Children), ?MAX_CHILDREN_PER_REQUEST)
    end;
chunks(#{'__struct__' := ?PIDS_REGISTER_REQ, children_data := Data}) when is_map(Data) ->
    batches(map_size(Data), ?MAX_PIDS_PER_REQUEST);
chunks(#{'__struct__' := ?PIDS_UNREGISTER_REQ, removable_cid_nodes := Cids}) when is_list(Cids) ->
    batches(length(Cids), ?MAX_PIDS_PER_REQUEST);
chunks(Sub) ->
    length(phn_request_manager:split(Sub)).

%% A proper list of at most Max elements, walked in Erlang: as fast as length/1 on 1 000
%% cells (measured) and charged a reduction a cell, where a store's length/1 calls over
%% 100 sub-requests of 1 000 children cold in the caches held the scheduler for 10 ms
%% in one slice (bench/NOTES.md).
within([_ | Rest], Max) when Max > 0 -> within(Rest, Max - 1);
within([], _Max) -> true;
within(_, _Max) -> false.

batches(N, Max) when N =< Max -> 1;
batches(N, Max) -> (N + Max - 1) div Max.

%% The responses (newest first) as #{Node => Results}: a node's chunks concatenated in
%% arrival order (one chunk as it came; a chunk that is not a proper list joins a
%% concatenation as one element), as phn_tracker would hand them back.
collect([]) ->
    #{};
collect([{Node, Results}]) ->
    #{Node => Results};
collect(Responses) ->
    ByNode = lists:foldl(fun({Node, R}, Acc) ->
                                 case Acc of
                                     #{Node := {one, Newer}} -> Acc#{Node := {many, prepend(R, tail(Newer))}};
                                     #{Node := {many, L}} -> Acc#{Node := {many, prepend(R, L)}};
                                     _ -> Acc#{Node => {one, R}}
                                 end
                         end, #{}, Responses),
    maps:map(fun(_, {one, R}) -> R; (_, {many, L}) -> L end, ByNode).

tail(R) when is_list(R) ->
    try length(R) of _ -> R catch error:badarg -> [R] end;
tail(R) ->
    [R].

prepend(R, Acc) when is_list(R) ->
    try R ++ Acc catch error:badarg -> [R | Acc] end;
prepend(R, Acc) ->
    [R | Acc].

%% The operation completed by its responses (newest first; every node answered): what
%% merge(Op, collect(Responses), []) gives, in one pass over the sub-requests when each
%% node answered once and has one sub-request, the common case; merge/3 otherwise.
complete(#{sub_requests := Subs,
           completed_nodes := #{'__struct__' := ?MAPSET, map := Set} = Completed} = Op,
         Responses) when is_list(Subs), is_map(Set) ->
    Results = maps:from_list(Responses),
    N = map_size(Results),
    case N =:= length(Responses) andalso N =:= length(Subs) andalso answered(Subs, Results) of
        Subs1 when is_list(Subs1) ->
            %% Every sub-request found its node's results and the counts agree, so each
            %% node has exactly one: no sub-request gets [] for a repeated node.
            Answered = maps:from_list([{Node, []} || {Node, _} <- Responses]),
            Set1 = case map_size(Set) of
                       0 -> Answered;
                       _ -> maps:merge(Set, Answered)
                   end,
            Op#{sub_requests := Subs1, completed_nodes := Completed#{map := Set1}};
        false ->
            merge(Op, collect(Responses), [])
    end;
complete(Op, Responses) -> % raises where merge/3 does
    merge(Op, collect(Responses), []).

answered([#{node := Node} = Sub | Subs], Results) ->
    case Results of
        #{Node := R} ->
            case answered(Subs, Results) of
                false -> false;
                Subs1 -> [Sub#{results => R, status => completed} | Subs1]
            end;
        _ ->
            false
    end;
answered([], _Results) ->
    [];
answered(_, _Results) ->
    false.

merge(Op, Results, _Missing) when map_size(Results) =:= 0 ->
    Op;
merge(#{sub_requests := Subs, completed_nodes := Completed} = Op, Results, Missing) ->
    Partial = maps:from_list([{N, true} || N <- Missing]),
    {Subs1, _} =
        lists:mapfoldl(
          fun(#{node := Node} = Sub, Given) ->
                  case Results of
                      #{Node := R} ->
                          Sub1 = case is_map_key(Node, Given) of
                                     true -> Sub#{results => []};
                                     false -> Sub#{results => R}
                                 end,
                          Sub2 = case is_map_key(Node, Partial) of
                                     true -> Sub1;
                                     false -> Sub1#{status => completed}
                                 end,
                          {Sub2, Given#{Node => true}};
                      _ ->
                          {Sub, Given}
                  end
          end, #{}, Subs),
    Done = [N || N <- maps:keys(Results), not is_map_key(N, Partial)],
    Op#{sub_requests := Subs1, completed_nodes := mapset_add(Completed, Done)}.

%% expires_at as a deadline: integers as they are; nil (or any non-number, above every
%% number in term order) never expires, as `Now > ExpiresAt' is then never true.
deadline(ExpiresAt) when is_integer(ExpiresAt) -> ExpiresAt;
deadline(ExpiresAt) when is_float(ExpiresAt) -> floor(ExpiresAt);
deadline(_) -> infinity.

mapset_map(#{'__struct__' := ?MAPSET, map := Map}) when is_map(Map) -> Map;
mapset_map(Other) -> error({badarg, Other}).

mapset_add(Set, []) ->
    Set;
mapset_add(#{'__struct__' := ?MAPSET, map := Map} = Set, Elems) ->
    Set#{map := lists:foldl(fun(E, Acc) -> Acc#{E => []} end, Map, Elems)}.
