%% Shared by the numbered EUnit suites: every test runs against both implementations.
-include_lib("eunit/include/eunit.hrl").

-define(MODS, [phn_request_manager_erl, phn_request_manager]).

%% One EUnit test per implementation module: Fun is fun((Mod) -> _).
-define(FOR_MODS(Fun), [{atom_to_list(M__), fun() -> (Fun)(M__) end} || M__ <- ?MODS]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP_REQ, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').
-define(PIDS_REG, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').
-define(PIDS_UNREG, 'Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').
-define(FUTURE, 'Elixir.ProcessHub.Future').
-define(START_RESULT, 'Elixir.ProcessHub.StartResult').
-define(STOP_RESULT, 'Elixir.ProcessHub.StopResult').
-define(MAPSET, 'Elixir.MapSet').
