%% @private
%% Why a C-node could not start, found before it starts (and again after it failed): the
%% binary, the wrapper's command, the local epmd and the name there. The C-node itself
%% exits with status 1 for all of the epmd cases, so they are asked of epmd directly,
%% at the port and the address (loopback) that ei publishes on.
-module(phn_cnode_preflight).

-export([check/4, epmd/2]).

-include_lib("kernel/include/file.hrl").

-define(EPMD_TIMEOUT_MS, 2000).
-define(NAMES_REQ, $n).
%% A previous instance's name goes from epmd when its process has exited; this is how
%% long a start waits for that before calling the name taken.
-define(NAME_ATTEMPTS, 5).
-define(NAME_WAIT_MS, 300).

%% @doc `ok', or the first cause that makes the start fail.
-spec check(file:filename(), [string()], inet:port_number(), node()) ->
    ok | {error, {cnode_binary, file:filename(), enoent | eacces | not_regular}
                 | {cnode_wrapper, string(), enoent}
                 | {epmd_unreachable, #{port := inet:port_number(), reason := term()}}
                 | {name_taken, node()}}.
check(Exe, Wrapper, EpmdPort, CNode) ->
    first([fun() -> binary(Exe) end,
           fun() -> wrapper(Wrapper) end,
           fun() -> wait_name(EpmdPort, CNode, ?NAME_ATTEMPTS) end]).

first([]) -> ok;
first([F | Rest]) ->
    case F() of
        ok -> first(Rest);
        {error, _} = Cause -> Cause
    end.

binary(Exe) ->
    case file:read_file_info(Exe) of
        {ok, #file_info{type = regular, mode = Mode}} ->
            case Mode band 8#111 of
                0 -> {error, {cnode_binary, Exe, eacces}};
                _ -> ok
            end;
        {ok, _NotRegular} -> {error, {cnode_binary, Exe, not_regular}};
        {error, Reason} -> {error, {cnode_binary, Exe, Reason}}
    end.

wrapper([]) -> ok;
wrapper([Cmd | _]) ->
    case os:find_executable(Cmd) of
        false -> {error, {cnode_wrapper, Cmd, enoent}};
        _ -> ok
    end.

wait_name(Port, CNode, Attempts) ->
    case epmd(Port, CNode) of
        {error, {name_taken, _}} when Attempts > 1 ->
            timer:sleep(?NAME_WAIT_MS),
            wait_name(Port, CNode, Attempts - 1);
        Result ->
            Result
    end.

%% @doc Whether the local epmd at Port answers and does not hold CNode's name.
-spec epmd(inet:port_number(), node()) ->
    ok | {error, {epmd_unreachable, #{port := inet:port_number(), reason := term()}}
                 | {name_taken, node()}}.
epmd(Port, CNode) ->
    case names(Port) of
        {ok, Names} ->
            [Alive | _] = string:split(atom_to_list(CNode), "@"),
            case lists:member(Alive, Names) of
                true -> {error, {name_taken, CNode}};
                false -> ok
            end;
        {error, Reason} ->
            {error, {epmd_unreachable, #{port => Port, reason => Reason}}}
    end.

%% epmd's NAMES_REQ: a 4-byte port, then "name N at port P\n" lines until it closes.
names(Port) ->
    case gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}, {packet, raw}],
                         ?EPMD_TIMEOUT_MS) of
        {ok, S} ->
            try
                case gen_tcp:send(S, <<1:16, ?NAMES_REQ>>) =:= ok andalso recv_all(S, <<>>) of
                    false -> {error, send_failed};
                    {ok, <<_EpmdPort:32, Lines/binary>>} -> {ok, parse(Lines)};
                    {ok, _Short} -> {error, bad_reply};
                    {error, _} = E -> E
                end
            after
                gen_tcp:close(S)
            end;
        {error, _} = E ->
            E
    end.

recv_all(S, Acc) ->
    case gen_tcp:recv(S, 0, ?EPMD_TIMEOUT_MS) of
        {ok, Bin} -> recv_all(S, <<Acc/binary, Bin/binary>>);
        {error, closed} -> {ok, Acc};
        {error, _} = E -> E
    end.

parse(Lines) ->
    [binary_to_list(Name)
     || Line <- binary:split(Lines, <<"\n">>, [global, trim_all]),
        [<<"name">>, Name | _] <- [binary:split(Line, <<" ">>, [global])]].
