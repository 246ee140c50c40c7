%% @private
%% NIF stubs and loading. Everything here is internal: the public faces are
%% phn_request_manager, phn_tracker, phn_partition and phn_cnode, which validate the
%% shapes they document before calling in. Every NIF still checks its terms itself and
%% raises badarg on a wrong one.
-module(phn_nif).

%% Every NIF is exported, and declared as a NIF (-nifs), from the one list.
-define(NIFS, [
    record_response/4,
    all_responded/1,
    process_response/3,
    split_list/3,
    split_map/4,
    populate_forward/3,
    cleanup_expired/2,
    partition_eval/6,
    partition_sync_log/2,
    tracker_new/2,
    tracker_track/5,
    tracker_record/5,
    tracker_count/3,
    tracker_get/2,
    tracker_peek/2,
    tracker_take/2,
    tracker_cancel/2,
    tracker_update/4,
    tracker_cleanup/4,
    tracker_size/1,
    tracker_stats/1,
    tracker_global_stats/0,
    tracker_close/1
]).

-export(?NIFS).
-nifs(?NIFS).

-on_load(init/0).

init() ->
    erlang:load_nif(filename:join(priv_dir(), "phn_nif"), 0).

priv_dir() ->
    case code:priv_dir(process_hub_native) of
        {error, bad_name} ->
            %% Loaded outside an application layout (a bare -pa): priv is beside ebin.
            filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        Dir ->
            Dir
    end.

-define(NOT_LOADED, erlang:nif_error({not_loaded, ?MODULE})).

%% The drop-in's hot paths (phn_request_manager; the shapes are ProcessHub's).
-spec record_response(Op, term(), term(), atom()) -> Op when Op :: map().
record_response(_Op, _Node, _Results, _Field) -> ?NOT_LOADED.
-spec all_responded(map()) -> boolean().
all_responded(_Op) -> ?NOT_LOADED.
-spec process_response(phn_rm_common:operation(), term(), term()) ->
          {complete | pending, phn_rm_common:operation()}.
process_response(_Op, _Node, _Results) -> ?NOT_LOADED.
-spec split_list(Req, atom(), pos_integer()) -> [Req, ...] when Req :: map().
split_list(_Req, _Field, _Max) -> ?NOT_LOADED.
-spec split_map(map(), Fresh, atom(), pos_integer()) -> [Fresh, ...] when Fresh :: map().
split_map(_Req, _Fresh, _Field, _Max) -> ?NOT_LOADED.
-spec populate_forward([{term(), term()}], [node()], term()) -> [{term(), term()}].
populate_forward(_Forward, _Targets, _Child) -> ?NOT_LOADED.
-spec cleanup_expired(Pending, integer()) -> Pending when Pending :: map().
cleanup_expired(_Pending, _NowMs) -> ?NOT_LOADED.

%% phn_partition's C core.
-spec partition_eval(init | lock | unlock | check, phn_partition:strategy(), [node()],
                     node() | undefined, integer(), phn_partition:state()) ->
          {boolean(), phn_partition:state()}.
partition_eval(_Op, _Strategy, _Nodes, _Node, _NowSeconds, _State) -> ?NOT_LOADED.
-spec partition_sync_log(phn_partition:state(), [{node(), integer()}]) ->
          phn_partition:state().
partition_sync_log(_State, _RemoteLog) -> ?NOT_LOADED.

%% phn_tracker's table (a tracker is a NIF resource, which is_reference/1 accepts).
-spec tracker_new(pos_integer(), pos_integer()) -> phn_tracker:tracker().
tracker_new(_MaxOps, _MaxNodes) -> ?NOT_LOADED.
-spec tracker_track(phn_tracker:tracker(), phn_tracker:ref(), phn_tracker:expected(),
                    integer(), none | {meta, term()}) ->
          ok | {error, already_tracked | limit | closed}.
tracker_track(_T, _Ref, _Expected, _DeadlineMs, _Meta) -> ?NOT_LOADED.
%% WithMeta: true gives the meta with the completion.
-spec tracker_record(phn_tracker:tracker(), phn_tracker:ref(), term(), term(), false) ->
          {pending, non_neg_integer()} | {complete, phn_tracker:collected()} |
          {ignored, unknown_operation | unexpected_node | extra_chunk};
                    (phn_tracker:tracker(), phn_tracker:ref(), term(), term(), true) ->
          {pending, non_neg_integer()} | {complete, phn_tracker:collected(), term()} |
          {ignored, unknown_operation | unexpected_node | extra_chunk}.
tracker_record(_T, _Ref, _Node, _Results, _WithMeta) -> ?NOT_LOADED.
-spec tracker_count(phn_tracker:tracker(), phn_tracker:ref(), term()) ->
          {pending, non_neg_integer()} | complete |
          {ignored, unknown_operation | unexpected_node | extra_chunk}.
tracker_count(_T, _Ref, _Node) -> ?NOT_LOADED.
-spec tracker_get(phn_tracker:tracker(), phn_tracker:ref()) ->
          {ok, phn_tracker:info()} | {error, not_found}.
tracker_get(_T, _Ref) -> ?NOT_LOADED.
-spec tracker_peek(phn_tracker:tracker(), phn_tracker:ref()) ->
          {ok, term(), non_neg_integer()} | {error, not_found}.
tracker_peek(_T, _Ref) -> ?NOT_LOADED.
-spec tracker_take(phn_tracker:tracker(), phn_tracker:ref()) ->
          {ok, phn_tracker:info()} | {error, not_found}.
tracker_take(_T, _Ref) -> ?NOT_LOADED.
-spec tracker_cancel(phn_tracker:tracker(), phn_tracker:ref()) -> ok | {error, not_found}.
tracker_cancel(_T, _Ref) -> ?NOT_LOADED.
-spec tracker_update(phn_tracker:tracker(), phn_tracker:ref(), keep | {meta, term()},
                     keep | integer()) -> ok | {error, not_found}.
tracker_update(_T, _Ref, _Meta, _DeadlineMs) -> ?NOT_LOADED.
%% Mode: true (infos), false (a count) or ref (the references).
-spec tracker_cleanup(phn_tracker:tracker(), integer(), pos_integer(), true) ->
          {done | more, [phn_tracker:info()]};
                     (phn_tracker:tracker(), integer(), pos_integer(), false) ->
          {done | more, non_neg_integer()};
                     (phn_tracker:tracker(), integer(), pos_integer(), ref) ->
          {done | more, [phn_tracker:ref()]}.
tracker_cleanup(_T, _NowMs, _MaxBatch, _Infos) -> ?NOT_LOADED.
-spec tracker_size(phn_tracker:tracker()) -> non_neg_integer().
tracker_size(_T) -> ?NOT_LOADED.
-spec tracker_stats(phn_tracker:tracker()) -> #{atom() => term()}.
tracker_stats(_T) -> ?NOT_LOADED.
-spec tracker_global_stats() -> #{atom() => non_neg_integer()}.
tracker_global_stats() -> ?NOT_LOADED.
-spec tracker_close(phn_tracker:tracker()) -> ok.
tracker_close(_T) -> ?NOT_LOADED.
