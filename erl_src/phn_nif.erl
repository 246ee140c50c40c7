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

record_response(_Op, _Node, _Results, _Field) -> ?NOT_LOADED.
all_responded(_Op) -> ?NOT_LOADED.
process_response(_Op, _Node, _Results) -> ?NOT_LOADED.
split_list(_Req, _Field, _Max) -> ?NOT_LOADED.
split_map(_Req, _Fresh, _Field, _Max) -> ?NOT_LOADED.
populate_forward(_Forward, _Targets, _Child) -> ?NOT_LOADED.
cleanup_expired(_Pending, _NowMs) -> ?NOT_LOADED.
partition_eval(_Op, _Strategy, _Nodes, _Node, _NowSeconds, _State) -> ?NOT_LOADED.
partition_sync_log(_State, _RemoteLog) -> ?NOT_LOADED.
tracker_new(_MaxOps, _MaxNodes) -> ?NOT_LOADED.
tracker_track(_T, _Ref, _Expected, _DeadlineMs, _Meta) -> ?NOT_LOADED.
tracker_record(_T, _Ref, _Node, _Results, _WithMeta) -> ?NOT_LOADED.
tracker_count(_T, _Ref, _Node) -> ?NOT_LOADED.
tracker_get(_T, _Ref) -> ?NOT_LOADED.
tracker_peek(_T, _Ref) -> ?NOT_LOADED.
tracker_take(_T, _Ref) -> ?NOT_LOADED.
tracker_cancel(_T, _Ref) -> ?NOT_LOADED.
tracker_update(_T, _Ref, _Meta, _DeadlineMs) -> ?NOT_LOADED.
tracker_cleanup(_T, _NowMs, _MaxBatch, _Infos) -> ?NOT_LOADED.
tracker_size(_T) -> ?NOT_LOADED.
tracker_stats(_T) -> ?NOT_LOADED.
tracker_global_stats() -> ?NOT_LOADED.
tracker_close(_T) -> ?NOT_LOADED.
