%% @doc Test double of `ProcessHub.Service.State' (REFERENCE §5.1): the hub's system
%% registry is modelled as an ETS set named in `Hub.procs.system_registry'.
-module('Elixir.ProcessHub.Service.State').

-export(['is_partitioned?'/1]).

'is_partitioned?'(Hub) ->
    Registry = maps:get(system_registry, maps:get(procs, Hub)),
    case ets:lookup(Registry, <<"dist_sup">>) of
        [] -> true;
        [{_, Pid}] -> not is_process_alive(Pid);
        _ -> false
    end.
