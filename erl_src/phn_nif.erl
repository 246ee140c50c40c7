%% @private
%% NIF stubs and loading. Everything here is internal: the public faces are
%% phn_request_manager, phn_tracker, phn_partition and phn_cnode, which validate the
%% shapes they document before calling in. Every NIF still checks its terms itself and
%% raises badarg on a wrong one.
-module(phn_nif).

-export([
    record_response/4,
    all_responded/1,
    process_response/3,
    split_list/3,
    split_map/4,
    populate_forward/3,
    cleanup_expired/2
]).

-nifs([
    record_response/4,
    all_responded/1,
    process_response/3,
    split_list/3,
    split_map/4,
    populate_forward/3,
    cleanup_expired/2
]).

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
