%% @doc The owner of the C-node (`priv/phn_cnode'): starts it through a port, gives it its
%% node name (argv) and the cookie (over the port, never argv), restarts it when it dies
%% and re-seeds it, and is the Erlang API to it. One per BEAM node, registered as
%% `phn_cnode'.
%%
%% <b>Collecting responses.</b> A coordinator composes its sub-requests with
%% {@link compose_sub_requests/2} so that remote ProcessHub nodes send their
%% `operation_response' casts to `{HubId, CNode}', then registers the operation:
%% ```
%% ok = phn_cnode:register_operation(TxRef, HubId, [{Node, Chunks}], TimeoutMs)
%% '''
%% and later receives exactly one message:
%% ```
%% {phn_cnode_op, TxRef, {complete, [{Node, Results}]}}
%% {phn_cnode_op, TxRef, {expired, [{Node, Results}], MissingNodes}}
%% {phn_cnode_op, TxRef, {error, cnode_down}}       % the C-node died meanwhile
%% {phn_cnode_op, TxRef, {error, enomem}}           % it could not build the result
%% {phn_cnode_op, TxRef, {error, undecodable}}      % the result did not decode here
%% '''
%% With `#{deliver => cast}' ({@link register_operation/6}) the one message is instead a
%% gen_server cast a ProcessHub coordinator hands to `RequestManager.handle_response/4':
%% `{'$gen_cast', {operation_response, TxRef, '$phn_cnode', Body}}' (C-node mode of
%% `phn_request_manager').
%% Results of a node sent in several chunks are concatenated in arrival order; responses
%% that arrive before the registration are held by the C-node and applied. A
%% registration answered with an error gets no message; a second registration of a
%% TxRef still held here is refused with `{error, exists}' and leaves the first intact.
%%
%% <b>Faults.</b> When the C-node dies, every waiting call gets `{error, cnode_down}', every
%% registered operation its `{error, cnode_down}' message, and this server starts a new
%% C-node and gives it back its hubs and subscribers (up to `max_restarts' in 60 s). A
%% packet from the C-node that does not decode is dropped, counted (`bad_packets' in
%% {@link info/0}) and logged at most once per 5 s; when its envelope still names an
%% operation or a call, that one waiter gets `{error, undecodable}'.
%%
%% <b>Partition checks.</b> {@link set_hub/4} gives the C-node a hub's strategy (a
%% ProcessHub strategy struct, see {@link phn_partition}) and node list (or `cluster': this
%% server then follows `net_kernel:monitor_nodes/1'). The C-node replays node changes as
%% the coordinator does and answers `gen_server:call({HubId, CNode}, is_partitioned)'
%% (also `status', `ping', `{subscribe, Pid}', `{unsubscribe, Pid}') itself.
%% Subscribers get `{phn_cnode_partition, HubId, Partitioned}' on each verdict change and,
%% for hubs with `watch', `{phn_cnode_node, HubId, Node, lost | found}' from the C-node's
%% own view of its connections (enabled by the `silence_ms' start option).
-module(phn_cnode).
-behaviour(gen_server).

-export([
    start_link/0,
    start_link/1,
    stop/0,
    shutdown_cnode/0,
    cnode/0,
    os_pid/0,
    stats/0,
    info/0,
    register_operation/4,
    register_operation/5,
    register_operation/6,
    cancel_operation/1,
    await_operation/2,
    set_hub/3,
    set_hub/4,
    set_hub_nodes/2,
    remove_hub/1,
    hub_status/1,
    is_partitioned/1,
    subscribe/1,
    subscribe/2,
    unsubscribe/2,
    reset_cluster_size/2,
    sync_quorum_log/2,
    connect/1,
    compose_sub_requests/2
]).

-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, format_status/2]).

-include("phn_errors.hrl").

-define(SERVER, ?MODULE).
-define(READY_TIMEOUT, 30000).
-define(CALL_TIMEOUT, 15000).
-define(BAD_LOG_MS, 5000).

-type hub_id() :: atom().
-type expected() :: [{node(), pos_integer()} | node()].
-type op_body() ::
    {complete, [{node(), list()}]}
    | {expired, [{node(), list()}], [node()]}
    | {error, cnode_down | enomem | undecodable}.
-type notify() :: pid() | {cast, pid()}.
-type start_error() ::
    not_distributed | no_cookie
    | {cnode_binary, file:filename(), enoent | eacces | not_regular}
    | {cnode_wrapper, string(), enoent}
    | {epmd_unreachable, #{port := inet:port_number(), reason := term()}}
    | {name_taken, node()}
    | {cnode_exit, integer()} | cnode_not_ready | {unexpected, term()}.

%% The kinds of the arguments (phn_errors): checked before anything is sent.
-define(START_OPTS, {options, #{name => atom, cookie => cookie, epmd_port => port_number,
                                args => cnode_args, wrapper => chardata,
                                max_restarts => non_neg_integer, executable => chardata,
                                bind => chardata}}).
-define(REGISTER_OPTS, {options, #{deliver => {one_of, [message, cast]}}}).
-define(HUB_OPTS, {options, #{watch => boolean}}).
-export_type([op_body/0]).

%%% API

%% @equiv start_link(#{})
-spec start_link() -> {ok, pid()} | {error, start_error()}.
start_link() -> start_link(#{}).

%% @doc Start the owner and its C-node. Options (all optional):
%% <ul>
%% <li>`name' - the C-node's node name, `alive@host' or just `alive' (the host of this
%%     node is added); default `phn_cnode_<alive of this node>'.</li>
%% <li>`cookie' - an atom, binary or string; default `erlang:get_cookie()'. It reaches the C-node
%%     over the port, never argv, and crash reports and `sys:get_status/1' show it redacted.</li>
%% <li>`epmd_port' - default the kernel `epmd_port' setting or `$ERL_EPMD_PORT'.</li>
%% <li>`args' - extra C-node limits, a map of `silence_ms, early_hold_ms, early_max,
%%     early_bytes, max_msg, max_ops, max_op_bytes, max_conns, handshake_ms, bind, ...'
%%     (the `--flag' names of `phn_cnode --help' with `_' for `-').</li>
%% <li>`bind' - the IPv4 address the C-node listens on (a string); default 127.0.0.1,
%%     `"0.0.0.0"' for every interface. Same as `bind' in `args'.</li>
%% <li>`wrapper' - a command line to run the C-node under (e.g. valgrind); default
%%     `$PHN_CNODE_WRAPPER'.</li>
%% <li>`max_restarts' - restarts allowed within 60 s before giving up (default 10).</li>
%% <li>`executable' - the C-node binary; default `priv/phn_cnode' of this application.</li>
%% </ul>
%% An unknown option or a value of the wrong type raises `badarg' naming it (the cookie's
%% value is never shown). A start that cannot work is refused, before anything starts,
%% with its cause:
%% <ul>
%% <li>`{error, not_distributed}': this node has no distribution (the C-node would join no
%%     cluster, and `erlang:get_cookie()' is then `nocookie', which anyone can present);</li>
%% <li>`{error, no_cookie}': the cookie is `nocookie' or empty;</li>
%% <li>`{error, {cnode_binary, Path, enoent | eacces | not_regular}}': the binary is
%%     missing or not executable (`make -C c_src' builds it);</li>
%% <li>`{error, {cnode_wrapper, Command, enoent}}': the wrapper's command is not found;</li>
%% <li>`{error, {epmd_unreachable, #{port := Port, reason := Reason}}}': no epmd answers
%%     on the local host at the port the C-node would use;</li>
%% <li>`{error, {name_taken, Node}}': epmd already has the C-node's name (after waiting
%%     about 1.5 s for a previous instance's name to go).</li>
%% </ul>
%% When the C-node still fails to start, epmd and the name are checked again to name the
%% cause; otherwise `{error, {cnode_exit, Status}}', `{error, cnode_not_ready}' or
%% `{error, {unexpected, Term}}'.
-spec start_link(map()) -> {ok, pid()} | {error, start_error()}.
start_link(Opts) ->
    case phn_errors:check([{'Opts', ?START_OPTS}], [Opts]) of
        ok ->
            case preflight(Opts) of
                ok ->
                    %% init/1 never answers ignore.
                    case gen_server:start_link({local, ?SERVER}, ?MODULE, Opts, []) of
                        {ok, Pid} -> {ok, Pid};
                        {error, _} = Failed -> Failed
                    end;
                {error, _} = Refused -> Refused
            end;
        Cause ->
            %% The arguments recorded in the error carry no cookie (nor does the cause).
            erlang:error(badarg, [redact_opts(Opts)], phn_errors:info(Cause))
    end.

redact_opts(#{cookie := _} = Opts) -> Opts#{cookie := redacted};
redact_opts(Opts) -> Opts.

preflight(_Opts) when node() =:= nonode@nohost ->
    {error, not_distributed};
preflight(Opts) ->
    case maps:get(cookie, Opts, erlang:get_cookie()) of
        C when C =:= nocookie; C =:= ''; C =:= ""; C =:= <<>> -> {error, no_cookie};
        _ -> phn_cnode_preflight:check(executable(Opts), wrapper(Opts), epmd_port(Opts),
                                       cnode_name(Opts))
    end.

%% @doc Stop the owner and its C-node.
-spec stop() -> ok.
stop() -> gen_server:stop(?SERVER).

%% @doc Ask the C-node to exit cleanly and return its exit status (0 when it shut down
%% cleanly; under a wrapper such as valgrind, the wrapper's status). The owner then
%% restarts it as after any other exit.
-spec shutdown_cnode() -> {ok, integer()} | {error, term()}.
shutdown_cnode() -> gen_server:call(?SERVER, shutdown_cnode, 60000).

%% @doc The C-node's node name.
-spec cnode() -> node().
cnode() -> gen_server:call(?SERVER, cnode).

%% @doc The C-node's OS pid (for fault-injection tests).
-spec os_pid() -> integer() | undefined.
os_pid() -> gen_server:call(?SERVER, os_pid).

%% @doc The C-node's own counters (through the control channel).
-spec stats() -> {ok, map()} | {error, term()}.
stats() -> ctl({stats}).

%% @doc This server's side: `port' and `os_pid' of the current C-node (for fault-injection
%% tests), `cnode', `bad_packets' (packets from the C-node that did not decode, dropped),
%% `send_failures' (commands the dead port refused, answered `{error, cnode_down}'),
%% `restarts' (C-nodes started after the first), `calls' and `ops' (waiting now).
-spec info() -> map().
info() -> gen_server:call(?SERVER, info).

%% @equiv register_operation(TxRef, HubId, Expected, TimeoutMs, self())
-spec register_operation(reference(), hub_id() | undefined, expected(), non_neg_integer()) ->
    ok | {error, exists | limit | cnode_down | term()}.
register_operation(TxRef, HubId, Expected, TimeoutMs) ->
    register_operation(TxRef, HubId, Expected, TimeoutMs, self()).

%% @doc Register an operation with the C-node: responses cast to `{HubId, CNode}' (any
%% name when `HubId' is `undefined') for `TxRef' are collected; `Expected' lists each
%% node with the number of response chunks it owes (a bare node owes one). `Notify' gets
%% one `{phn_cnode_op, TxRef, Body}' message; an error answer means no message. Errors:
%% `exists' (also while this server still holds the TxRef: the first registration keeps
%% its message), `limit', `cnode_down'. A bad argument raises `badarg' naming it
%% (`Expected' must be a non-empty proper list).
-spec register_operation(reference(), hub_id() | undefined, expected(), non_neg_integer(),
                         pid()) -> ok | {error, exists | limit | cnode_down | term()}.
register_operation(TxRef, HubId, Expected, TimeoutMs, Notify) ->
    register_operation(TxRef, HubId, Expected, TimeoutMs, Notify, #{}).

%% @doc {@link register_operation/5} with options: `deliver => message' (the default:
%% `Notify' gets `{phn_cnode_op, TxRef, Body}') or `deliver => cast' (`Notify' gets
%% `{'$gen_cast', {operation_response, TxRef, '$phn_cnode', Body}}', which a ProcessHub
%% coordinator hands to `phn_request_manager:handle_response/4').
-spec register_operation(reference(), hub_id() | undefined, expected(), non_neg_integer(),
                         pid(), #{deliver => message | cast}) ->
    ok | {error, exists | limit | cnode_down | term()}.
register_operation(TxRef, HubId, Expected, TimeoutMs, Notify, Opts) ->
    ?CHECK_ARGS([{'TxRef', reference}, {'HubId', atom}, {'Expected', expected},
                 %% The C-node reads it as a signed 64-bit integer (and saturates the
                 %% deadline), so anything larger is refused here, not after a round trip.
                 {'TimeoutMs', {integer_range, 0, (1 bsl 63) - 1}}, {'Notify', pid},
                 {'Opts', ?REGISTER_OPTS}],
                [TxRef, HubId, Expected, TimeoutMs, Notify, Opts]),
    case maps:get(deliver, Opts, message) of
        message -> register_call(TxRef, HubId, Expected, TimeoutMs, Notify);
        cast -> register_call(TxRef, HubId, Expected, TimeoutMs, {cast, Notify})
    end.

register_call(TxRef, HubId, Expected, TimeoutMs, Notify) ->
    gen_server:call(?SERVER, {register, TxRef, HubId, Expected, TimeoutMs, Notify},
                    ?CALL_TIMEOUT).

%% @doc Drop a registered operation; nobody is notified.
-spec cancel_operation(reference()) -> ok | {error, term()}.
cancel_operation(TxRef) ->
    ?CHECK_ARGS([{'TxRef', reference}], [TxRef]),
    gen_server:call(?SERVER, {cancel, TxRef}, ?CALL_TIMEOUT).

%% @doc Wait for the message of an operation registered by the calling process.
-spec await_operation(reference(), timeout()) -> op_body() | {error, timeout}.
await_operation(TxRef, Timeout) ->
    ?CHECK_ARGS([{'TxRef', reference}, {'Timeout', timeout}], [TxRef, Timeout]),
    receive
        {phn_cnode_op, TxRef, Body} -> Body
    after Timeout -> {error, timeout}
    end.

%% @equiv set_hub(HubId, Strategy, Nodes, #{})
-spec set_hub(hub_id(), phn_partition:strategy(), [node()] | cluster) ->
    {ok, boolean()} | {error, term()}.
set_hub(HubId, Strategy, Nodes) -> set_hub(HubId, Strategy, Nodes, #{}).

%% @doc Give the C-node a hub: its partition strategy struct and its node list
%% (including this node), or `cluster' to follow this node's view of the cluster. Option
%% `watch => true' narrows the node list by the C-node's own view. Runs the strategy's
%% init; returns whether the hub is partitioned. A strategy the C-node cannot evaluate
%% (an unknown struct, a field of the wrong type) raises `badarg' naming `Strategy'.
-spec set_hub(hub_id(), phn_partition:strategy(), [node()] | cluster,
              #{watch => boolean()}) ->
    {ok, boolean()} | {error, term()}.
set_hub(HubId, Strategy, Nodes, Opts) ->
    NodesKind = case Nodes of cluster -> any; _ -> nodes end,
    ?CHECK_ARGS([{'HubId', atom}, {'Strategy', strategy}, {'Nodes', NodesKind},
                 {'Opts', ?HUB_OPTS}], [HubId, Strategy, Nodes, Opts]),
    case gen_server:call(?SERVER, {set_hub, HubId, Strategy, Nodes, Opts}, ?CALL_TIMEOUT) of
        {error, badarg} ->
            %% Every other argument was checked here: the C-node refused the strategy.
            erlang:error(badarg, [HubId, Strategy, Nodes, Opts],
                         phn_errors:info(#{2 => {'Strategy', "a strategy the C-node cannot "
                                                 "evaluate (unknown struct or bad field)"}}));
        Reply ->
            Reply
    end.

%% @doc Push a new node list for a hub (stops following the cluster).
-spec set_hub_nodes(hub_id(), [node()]) -> {ok, boolean()} | {error, term()}.
set_hub_nodes(HubId, Nodes) ->
    ?CHECK_ARGS([{'HubId', atom}, {'Nodes', nodes}], [HubId, Nodes]),
    gen_server:call(?SERVER, {set_hub_nodes, HubId, Nodes}, ?CALL_TIMEOUT).

%% @doc Forget a hub (the C-node drops it and its subscribers).
-spec remove_hub(hub_id()) -> ok | {error, term()}.
remove_hub(HubId) ->
    ?CHECK_ARGS([{'HubId', atom}], [HubId]),
    gen_server:call(?SERVER, {remove_hub, HubId}, ?CALL_TIMEOUT).

%% @doc The C-node's full view of a hub (through the control channel).
-spec hub_status(hub_id()) -> {ok, map()} | {error, term()}.
hub_status(HubId) ->
    ?CHECK_ARGS([{'HubId', atom}], [HubId]),
    ctl({status, HubId}).

%% @doc Ask the C-node itself, over distribution, as any node of the cluster can:
%% `gen_server:call({HubId, CNode}, is_partitioned)'.
-spec is_partitioned(hub_id()) -> boolean() | {error, term()}.
is_partitioned(HubId) ->
    ?CHECK_ARGS([{'HubId', atom}], [HubId]),
    try gen_server:call({HubId, cnode()}, is_partitioned, 5000)
    catch exit:Reason -> {error, Reason}
    end.

%% @equiv subscribe(HubId, self())
-spec subscribe(hub_id()) -> ok | {error, term()}.
subscribe(HubId) -> subscribe(HubId, self()).

%% @doc Verdict changes of the hub go to Pid (kept across C-node restarts).
-spec subscribe(hub_id(), pid()) -> ok | {error, term()}.
subscribe(HubId, Pid) ->
    ?CHECK_ARGS([{'HubId', atom}, {'Pid', pid}], [HubId, Pid]),
    gen_server:call(?SERVER, {subscribe, HubId, Pid}, ?CALL_TIMEOUT).

%% @doc Stop sending the hub's verdict changes to Pid.
-spec unsubscribe(hub_id(), pid()) -> ok | {error, term()}.
unsubscribe(HubId, Pid) ->
    ?CHECK_ARGS([{'HubId', atom}, {'Pid', pid}], [HubId, Pid]),
    gen_server:call(?SERVER, {unsubscribe, HubId, Pid}, ?CALL_TIMEOUT).

%% @doc MajorityQuorum's reset_cluster_size on the C-node's copy of the hub.
-spec reset_cluster_size(hub_id(), pos_integer()) -> ok | {error, term()}.
reset_cluster_size(HubId, N) ->
    ?CHECK_ARGS([{'HubId', atom}, {'N', pos_integer}], [HubId, N]),
    ctl({reset_cluster_size, HubId, N}).

%% @doc DynamicQuorum's sync_quorum_log: `{ok, Replaced}'.
-spec sync_quorum_log(hub_id(), [{node(), integer()}]) -> {ok, boolean()} | {error, term()}.
sync_quorum_log(HubId, Log) ->
    ?CHECK_ARGS([{'HubId', atom}, {'Log', quorum_log}], [HubId, Log]),
    ctl({sync_quorum_log, HubId, Log}).

%% @doc Make the C-node dial a node now (its own connections are otherwise made by the
%% nodes that talk to it, or by `watch').
-spec connect(node()) -> ok | {error, term()}.
connect(Node) ->
    ?CHECK_ARGS([{'Node', node}], [Node]),
    ctl({connect, Node}).

%% @doc `phn_request_manager:compose_sub_requests/1', then every sub-request's
%% `originating_node' set to the C-node, so that the target nodes send their responses
%% to `{HubId, CNodeName}'.
-spec compose_sub_requests(map(), node()) -> {ok, map()} | {error, no_children}.
compose_sub_requests(Op, CNodeName) ->
    ?CHECK_ARGS([{'Op', map}, {'CNodeName', node}], [Op, CNodeName]),
    %% Composed as map mode does (phn_request_manager's own would, in C-node mode, compose
    %% and register).
    case phn_rm_common:compose_sub_requests(Op) of
        {ok, #{sub_requests := Subs} = Op1} ->
            {ok, Op1#{sub_requests := [S#{originating_node => CNodeName} || S <- Subs]}};
        Other ->
            Other
    end.

%%% gen_server

-record(st, {
    port :: port() | undefined,
    os_pid :: integer() | undefined,
    cnode :: node() | undefined,
    opts :: map(),
    seq = 0 :: non_neg_integer(),
    calls = #{} :: #{non_neg_integer() => term()},
    %% pending: the C-node has not answered the registration (call Seq) yet; delivered:
    %% its result went out before that answer; registered: answered ok.
    %% The notify term is the pid, or {cast, Pid} for delivery as an operation_response cast.
    ops = #{} :: #{reference() => {notify(), registered | {pending | delivered, non_neg_integer()}}},
    hubs = #{} :: #{hub_id() => map()},
    restarts = [] :: [integer()],
    waiting_exit :: gen_server:from() | undefined,
    monitoring = false :: boolean(),
    bad_packets = 0 :: non_neg_integer(),
    bad_logged_at :: integer() | undefined,
    bad_unlogged = 0 :: non_neg_integer(),
    send_failures = 0 :: non_neg_integer(),
    started = 0 :: non_neg_integer()
}).

%% @private
-spec init(map()) -> {ok, #st{}} | {stop, term()}.
init(Opts) ->
    process_flag(trap_exit, true),
    case start_port(#st{opts = Opts}) of
        {ok, St} -> {ok, St};
        {error, Reason} -> {stop, Reason}
    end.

%% @private
-spec handle_call(term(), gen_server:from(), #st{}) ->
    {reply, term(), #st{}} | {noreply, #st{}}.
handle_call(cnode, _From, St) ->
    {reply, St#st.cnode, St};
handle_call(os_pid, _From, St) ->
    {reply, St#st.os_pid, St};
handle_call(info, _From, St) ->
    {reply, #{port => St#st.port, os_pid => St#st.os_pid, cnode => St#st.cnode,
              bad_packets => St#st.bad_packets, send_failures => St#st.send_failures,
              restarts => max(St#st.started - 1, 0), calls => map_size(St#st.calls),
              ops => map_size(St#st.ops)}, St};
handle_call(shutdown_cnode, From, #st{port = Port} = St) when Port =/= undefined ->
    St1 = send_ctl({shutdown}, internal, St),
    {noreply, St1#st{waiting_exit = From}};
handle_call({register, TxRef, _, _, _, _}, _From, #st{ops = Ops} = St)
  when is_map_key(TxRef, Ops) ->
    %% Still held here (a retry after a call timeout, say): the C-node would refuse it
    %% too, and the first registration keeps its entry and so its message.
    {reply, {error, exists}, St};
handle_call({register, TxRef, HubId, Expected, Timeout, Notify}, From, #st{seq = Seq} = St) ->
    %% Known before the C-node answers: held early responses may complete it at once.
    St1 = St#st{ops = maps:put(TxRef, {Notify, {pending, Seq}}, St#st.ops)},
    {noreply, send_ctl({register, TxRef, HubId, Expected, Timeout},
                       {From, {register, TxRef, Seq}}, St1)};
handle_call({cancel, TxRef}, From, St) ->
    St1 = St#st{ops = maps:remove(TxRef, St#st.ops)},
    {noreply, send_ctl({cancel, TxRef}, From, St1)};
handle_call({set_hub, HubId, Strategy, Nodes, Opts}, From, St0) ->
    Follow = Nodes =:= cluster,
    %% One subscription however many hubs follow the cluster.
    St = case Follow andalso not St0#st.monitoring of
             true -> ok = net_kernel:monitor_nodes(true), St0#st{monitoring = true};
             false -> St0
         end,
    Hub = #{strategy => Strategy, follow => Follow, nodes => hub_nodes(Nodes),
            watch => maps:get(watch, Opts, false) =:= true, subs => subs_of(HubId, St)},
    Cmd = {set_hub, HubId, Strategy, maps:get(nodes, Hub), #{watch => maps:get(watch, Hub)}},
    {noreply, send_ctl(Cmd, {From, {set_hub, HubId, Hub}}, St)};
handle_call({set_hub_nodes, HubId, Nodes}, From, #st{hubs = Hubs} = St) ->
    case Hubs of
        #{HubId := Hub} ->
            Hubs1 = Hubs#{HubId := Hub#{nodes := Nodes, follow := false}},
            {noreply, send_ctl({hub_nodes, HubId, Nodes}, From, St#st{hubs = Hubs1})};
        _ ->
            {reply, {error, unknown_hub}, St}
    end;
handle_call({remove_hub, HubId}, From, St) ->
    St1 = St#st{hubs = maps:remove(HubId, St#st.hubs)},
    {noreply, send_ctl({remove_hub, HubId}, From, St1)};
handle_call({subscribe, HubId, Pid}, From, St) ->
    {noreply, send_ctl({subscribe, HubId, Pid}, {From, {subscribe, HubId, Pid}}, St)};
handle_call({unsubscribe, HubId, Pid}, From, St) ->
    St1 = update_subs(HubId, fun(Subs) -> lists:delete(Pid, Subs) end, St),
    {noreply, send_ctl({unsubscribe, HubId, Pid}, From, St1)};
handle_call({ctl, Cmd}, From, St) ->
    {noreply, send_ctl(Cmd, From, St)};
handle_call(_Other, _From, St) ->
    {reply, {error, badarg}, St}.

%% @private
-spec handle_cast(term(), #st{}) -> {noreply, #st{}}.
handle_cast(_Msg, St) ->
    {noreply, St}.

%% @private
-spec handle_info(term(), #st{}) -> {noreply, #st{}} | {stop, term(), #st{}}.
handle_info({Port, {data, Bin}}, #st{port = Port} = St) ->
    {noreply, packet(Bin, St)};
handle_info({Port, {exit_status, Status}}, #st{port = Port} = St) ->
    cnode_down({exit_status, Status}, St);
handle_info({'EXIT', Port, Reason}, #st{port = Port} = St) ->
    cnode_down(Reason, St);
handle_info({nodeup, _Node}, St) ->
    {noreply, follow_cluster(St)};
handle_info({nodedown, _Node}, St) ->
    {noreply, follow_cluster(St)};
handle_info({'DOWN', _Ref, process, Pid, _}, St) ->
    %% A subscriber died: forget it everywhere (the C-node's copy too).
    {noreply, drop_subscriber(Pid, St)};
handle_info(_Other, St) ->
    {noreply, St}.

%% @private
-spec terminate(term(), #st{}) -> ok.
terminate(_Reason, #st{port = Port} = St) ->
    _ = fail_waiters(St),
    Port =/= undefined andalso (catch port_close(Port)),
    ok.

%% Crash reports and sys:get_status/1 never show the cookie.
%% @private
-spec format_status(normal | terminate, [term()]) -> term().
format_status(terminate, [_PDict, St]) -> redact(St);
format_status(_Normal, [_PDict, St]) -> [{data, [{"State", redact(St)}]}].

redact(#st{opts = #{cookie := _} = Opts} = St) -> St#st{opts = Opts#{cookie := redacted}};
redact(St) -> St.

%%% The port

cnode_name(Opts) ->
    [Alive0, Host] = string:split(atom_to_list(node()), "@"),
    case maps:get(name, Opts, undefined) of
        undefined -> list_to_atom("phn_cnode_" ++ Alive0 ++ "@" ++ Host);
        Name ->
            case string:split(atom_to_list(Name), "@") of
                [_, _] -> Name;
                [Alive] -> list_to_atom(Alive ++ "@" ++ Host)
            end
    end.

%% The epmd port the C-node will use: the option, the kernel's setting, this node's
%% -epmd_port boot flag, $ERL_EPMD_PORT, else epmd's default.
epmd_port(Opts) ->
    case maps:get(epmd_port, Opts, undefined) of
        undefined ->
            case {application:get_env(kernel, epmd_port), init:get_argument(epmd_port)} of
                {{ok, P}, _} when is_integer(P) -> P;
                {_, {ok, [[Flag | _] | _]}} -> env_port(Flag);
                _ -> env_port(os:getenv("ERL_EPMD_PORT"))
            end;
        P -> P
    end.

env_port(false) -> 4369;
env_port(S) ->
    try list_to_integer(string:trim(S)) catch error:badarg -> 4369 end.

epmd_env(Opts) -> [{"ERL_EPMD_PORT", integer_to_list(epmd_port(Opts))}].

arg_flags(Args) ->
    lists:append([["--" ++ string:replace(atom_to_list(K), "_", "-", all), to_list(V)]
                   || {K, V} <- lists:sort(maps:to_list(Args))]).

to_list(V) when is_integer(V) -> integer_to_list(V);
to_list(V) when is_atom(V) -> atom_to_list(V);
to_list(V) when is_list(V) -> V;
to_list(V) when is_binary(V) -> binary_to_list(V).

executable(#{executable := Path}) ->
    unicode:characters_to_list(Path);
executable(_Opts) ->
    Priv = case code:priv_dir(process_hub_native) of
               {error, bad_name} ->
                   filename:join(filename:dirname(filename:dirname(code:which(?MODULE))),
                                 "priv");
               Dir -> Dir
           end,
    filename:join(Priv, "phn_cnode").

%% The wrapper's words ([] for none).
wrapper(Opts) ->
    case maps:get(wrapper, Opts, os:getenv("PHN_CNODE_WRAPPER")) of
        false -> [];
        W -> string:lexemes(unicode:characters_to_list(W), " ")
    end.

%% The executable and its argv, under the wrapper if one is set.
command(Opts, Args) ->
    Exe = executable(Opts),
    case wrapper(Opts) of
        [] -> {Exe, Args};
        [Cmd | WArgs] -> {os:find_executable(Cmd), WArgs ++ [Exe | Args]}
    end.

start_port(St) ->
    start_port(St, 5).

start_port(#st{opts = Opts} = St, Attempts) ->
    CNode = cnode_name(Opts),
    %% `bind' (the C-node listens on 127.0.0.1 without it) may also sit in `args'.
    %% --owner: identifiers naming this node are checked as this node's BEAM checks them.
    Args = ["--name", atom_to_list(CNode), "--owner", atom_to_list(node())
            | arg_flags(maps:merge(maps:with([bind], Opts), maps:get(args, Opts, #{})))],
    {Exe, Argv} = command(Opts, Args),
    Port = open_port({spawn_executable, Exe},
                     [{args, Argv}, {packet, 4}, binary, exit_status, use_stdio,
                      {env, epmd_env(Opts)}]),
    OsPid = case erlang:port_info(Port, os_pid) of {os_pid, P} -> P; _ -> undefined end,
    %% Neither a bad cookie option nor a dead port may raise with the cookie among the
    %% arguments of the stack trace (a crash report would print it).
    Cookie = cookie_bin(maps:get(cookie, Opts, erlang:get_cookie())),
    try port_command(Port, term_to_binary({cookie, Cookie}))
    catch error:_ -> ok % the port is gone: its exit_status follows
    end,
    receive
        {Port, {data, Bin}} ->
            case decode(Bin) of
                {ok, {ready, CNode, _ListenPort}} ->
                    {ok, St#st{port = Port, os_pid = OsPid, cnode = CNode,
                               started = St#st.started + 1}};
                Other ->
                    catch port_close(Port),
                    {error, {unexpected, case Other of {ok, T} -> T; error -> undecodable end}}
            end;
        {Port, {exit_status, _Status}} when Attempts > 1 ->
            %% Most often epmd still holds the name of the instance that just died.
            timer:sleep(300),
            start_port(St, Attempts - 1);
        {Port, {exit_status, Status}} ->
            %% Name the cause when epmd can: gone meanwhile, or the name still held.
            case phn_cnode_preflight:epmd(epmd_port(Opts), CNode) of
                ok -> {error, {cnode_exit, Status}};
                {error, _} = Cause -> Cause
            end
    after ?READY_TIMEOUT ->
        catch port_close(Port),
        {error, cnode_not_ready}
    end.

cookie_bin(C) when is_atom(C) -> atom_to_binary(C);
cookie_bin(C) when is_binary(C) -> C;
cookie_bin(C) when is_list(C) ->
    try unicode:characters_to_binary(C) of
        B when is_binary(B) -> B;
        _ -> erlang:error({bad_option, cookie})
    catch _:_ -> erlang:error({bad_option, cookie})
    end;
cookie_bin(_) -> erlang:error({bad_option, cookie}).

send_ctl(_Cmd, Waiter, #st{port = undefined} = St) ->
    reply_waiter(Waiter, {error, cnode_down}, St);
send_ctl(Cmd, Waiter, #st{port = Port, seq = Seq, calls = Calls} = St) ->
    [Name | Args] = tuple_to_list(Cmd),
    try port_command(Port, term_to_binary(list_to_tuple([Name, Seq | Args]))) of
        true -> St#st{seq = Seq + 1, calls = Calls#{Seq => Waiter}}
    catch
        error:badarg ->
            %% The C-node died and its port closed; the exit message is queued behind
            %% this call and restarts it. This waiter is answered now.
            reply_waiter(Waiter, {error, cnode_down},
                         St#st{send_failures = St#st.send_failures + 1})
    end.

%% A reply for a waiter: a gen_server caller, possibly with bookkeeping to do on success.
reply_waiter(internal, _Result, St) -> St;
reply_waiter({From, {register, TxRef, Seq}}, Result, #st{ops = Ops} = St) ->
    %% Only this registration's own entry is touched (Seq): a cancel and a new
    %% registration of the same TxRef may have come since.
    {Reply, Ops1} =
        case Ops of
            #{TxRef := {_, {delivered, Seq}}} ->
                %% Its result went out already: it was registered, whatever follows.
                {ok, maps:remove(TxRef, Ops)};
            #{TxRef := {Notify, {pending, Seq}}} when Result =:= ok ->
                {ok, Ops#{TxRef := {Notify, registered}}};
            #{TxRef := {_, {pending, Seq}}} ->
                {Result, maps:remove(TxRef, Ops)};
            _ ->
                {Result, Ops} % cancelled meanwhile
        end,
    gen_server:reply(From, Reply),
    St#st{ops = Ops1};
reply_waiter({From, {set_hub, HubId, Hub}}, Result, St) ->
    St1 = case Result of
              {ok, Partitioned} ->
                  Old = maps:get(HubId, St#st.hubs, #{}),
                  St#st{hubs = maps:put(HubId, maps:merge(Old, Hub#{partitioned => Partitioned}),
                                        St#st.hubs)};
              _ -> St
          end,
    gen_server:reply(From, Result),
    St1;
reply_waiter({From, {subscribe, HubId, Pid}}, Result, St) ->
    St1 = case Result of
              ok ->
                  erlang:monitor(process, Pid),
                  update_subs(HubId, fun(Subs) -> [Pid | lists:delete(Pid, Subs)] end, St);
              _ -> St
          end,
    gen_server:reply(From, Result),
    St1;
reply_waiter(From, Result, St) ->
    gen_server:reply(From, Result),
    St.

%%% Packets from the C-node

%% The C-node forwards peers' bytes (operation results, call tags) after checking their
%% structure only, so a packet may not decode here: it is dropped, never a crash. No
%% `safe': results may carry atoms new to this node, as distribution would accept them
%% from the same peers.
packet(Bin, St) ->
    case decode(Bin) of
        {ok, Msg} -> from_cnode(Msg, St);
        error -> bad_packet(Bin, St)
    end.

decode(Bin) ->
    try binary_to_term(Bin) of
        Term -> {ok, Term}
    catch
        error:badarg -> error
    end.

%% Counted and logged; the one waiter its envelope still names (an operation's TxRef, a
%% call's Seq) gets {error, undecodable}, so nobody waits for an answer that was lost.
bad_packet(Bin, #st{bad_packets = N} = St) ->
    Envelope = envelope(Bin),
    St1 = log_bad_packet(byte_size(Bin), Envelope, St#st{bad_packets = N + 1}),
    case Envelope of
        [op_result, TxRef] when is_reference(TxRef) ->
            from_cnode({op_result, TxRef, {error, undecodable}}, St1);
        [reply, Seq] when is_integer(Seq) ->
            from_cnode({reply, Seq, {error, undecodable}}, St1);
        _ ->
            St1
    end.

%% The first two elements of a packet's tuple, as far as they decode.
envelope(<<131, 104, Arity, Rest/binary>>) -> elements(Rest, min(Arity, 2));
envelope(_) -> [].

elements(_Bin, 0) -> [];
elements(Bin, K) ->
    try binary_to_term(<<131, Bin/binary>>, [used]) of
        {Term, Used} ->
            <<_:(Used - 1)/binary, Rest/binary>> = Bin,
            [Term | elements(Rest, K - 1)]
    catch
        error:badarg -> []
    end.

%% At most one report per ?BAD_LOG_MS, saying how many were not reported: a peer that
%% sends bad terms in a loop cannot flood the log. No content is logged.
log_bad_packet(Size, Envelope, #st{bad_logged_at = At, bad_unlogged = Unlogged} = St) ->
    Now = erlang:monotonic_time(millisecond),
    case At =:= undefined orelse Now - At >= ?BAD_LOG_MS of
        true ->
            Kind = case Envelope of
                       [Tag | _] when is_atom(Tag) -> Tag;
                       _ -> unknown
                   end,
            logger:warning("phn_cnode: dropped a packet from the C-node that does not decode "
                           "(~b bytes, ~p); ~b more dropped since the last report, "
                           "~b in all", [Size, Kind, Unlogged, St#st.bad_packets]),
            St#st{bad_logged_at = Now, bad_unlogged = 0};
        false ->
            St#st{bad_unlogged = Unlogged + 1}
    end.

from_cnode({reply, Seq, Result}, #st{calls = Calls} = St) ->
    case maps:take(Seq, Calls) of
        {Waiter, Calls1} -> reply_waiter(Waiter, Result, St#st{calls = Calls1});
        error -> St
    end;
from_cnode({op_result, TxRef, Body}, #st{ops = Ops} = St) ->
    case Ops of
        #{TxRef := {Notify, registered}} ->
            notify(Notify, TxRef, Body),
            St#st{ops = maps:remove(TxRef, Ops)};
        #{TxRef := {Notify, {pending, Seq}}} ->
            %% Completed by held responses before the C-node's answer to the registration.
            notify(Notify, TxRef, Body),
            St#st{ops = Ops#{TxRef := {Notify, {delivered, Seq}}}};
        _ ->
            St % cancelled meanwhile (or delivered already: one message per operation)
    end;
from_cnode({deliver, To, Msg}, St) ->
    %% The C-node has no connection to To's node; this node may (or will make one).
    catch erlang:send(To, Msg),
    St;
from_cnode({hub_state, HubId, Partitioned, State}, #st{hubs = Hubs} = St) ->
    case Hubs of
        #{HubId := Hub} ->
            St#st{hubs = Hubs#{HubId := Hub#{partitioned => Partitioned, state => State}}};
        _ -> St
    end;
from_cnode(_Other, St) ->
    St.

%% Everyone waiting on the dead C-node gets an answer now: no caller ever hangs. Calls
%% first: that settles every registration in flight (refused: no message; its result
%% already out: ok), so only registered operations get their cnode_down message.
fail_waiters(#st{calls = Calls} = St) ->
    St1 = maps:fold(fun(_Seq, W, Acc) -> reply_waiter(W, {error, cnode_down}, Acc) end,
                    St#st{calls = #{}}, Calls),
    _ = [notify(Notify, TxRef, {error, cnode_down})
         || {TxRef, {Notify, registered}} <- maps:to_list(St1#st.ops)],
    St1#st{ops = #{}}.

%% An operation's one message, as its registration asked.
notify({cast, Pid}, TxRef, Body) ->
    Pid ! {'$gen_cast', {operation_response, TxRef, '$phn_cnode', Body}},
    ok;
notify(Pid, TxRef, Body) ->
    Pid ! {phn_cnode_op, TxRef, Body},
    ok.

cnode_down(Reason, #st{restarts = Restarts, opts = Opts} = St0) ->
    #st{waiting_exit = Exit} = St = fail_waiters(St0),
    case {Exit, Reason} of
        {undefined, _} -> ok;
        {_, {exit_status, Status}} -> gen_server:reply(Exit, {ok, Status});
        _ -> gen_server:reply(Exit, {error, Reason})
    end,
    Now = erlang:monotonic_time(second),
    Recent = [T || T <- [Now | Restarts], Now - T < 60],
    St1 = St#st{port = undefined, os_pid = undefined, calls = #{}, ops = #{},
                restarts = Recent, waiting_exit = undefined},
    case length(Recent) > maps:get(max_restarts, Opts, 10) of
        true ->
            {stop, {cnode_down, Reason}, St1};
        false ->
            case start_port(St1) of
                {ok, St2} -> {noreply, reseed(St2)};
                {error, Why} -> {stop, {cnode_restart_failed, Why}, St1}
            end
    end.

%% Give a restarted C-node every hub back, with its last reported verdict and state.
reseed(#st{hubs = Hubs} = St) ->
    maps:fold(
        fun(HubId, Hub, Acc) ->
            #{strategy := S, nodes := Nodes, watch := Watch} = Hub,
            Opts0 = #{watch => Watch, partitioned => maps:get(partitioned, Hub, false)},
            Opts = case Hub of
                       #{state := State} -> Opts0#{state => State};
                       _ -> Opts0
                   end,
            Nodes1 = case maps:get(follow, Hub) of true -> hub_nodes(cluster); false -> Nodes end,
            Acc1 = send_ctl({set_hub, HubId, S, Nodes1, Opts}, internal, Acc),
            lists:foldl(fun(Pid, A) -> send_ctl({subscribe, HubId, Pid}, internal, A) end,
                        Acc1, maps:get(subs, Hub, []))
        end,
        St, Hubs).

hub_nodes(cluster) -> lists:usort([node() | nodes()]);
hub_nodes(Nodes) -> Nodes.

follow_cluster(#st{hubs = Hubs} = St) ->
    Nodes = hub_nodes(cluster),
    maps:fold(
        fun(HubId, #{follow := true} = Hub, Acc) ->
                Acc1 = Acc#st{hubs = maps:put(HubId, Hub#{nodes := Nodes}, Acc#st.hubs)},
                send_ctl({hub_nodes, HubId, Nodes}, internal, Acc1);
           (_, _, Acc) -> Acc
        end,
        St, Hubs).

subs_of(HubId, #st{hubs = Hubs}) ->
    maps:get(subs, maps:get(HubId, Hubs, #{}), []).

update_subs(HubId, Fun, #st{hubs = Hubs} = St) ->
    case Hubs of
        #{HubId := Hub} ->
            St#st{hubs = Hubs#{HubId := Hub#{subs => Fun(maps:get(subs, Hub, []))}}};
        _ -> St
    end.

drop_subscriber(Pid, #st{hubs = Hubs} = St) ->
    maps:fold(
        fun(HubId, Hub, Acc) ->
            case lists:member(Pid, maps:get(subs, Hub, [])) of
                true ->
                    Acc1 = update_subs(HubId, fun(S) -> lists:delete(Pid, S) end, Acc),
                    send_ctl({unsubscribe, HubId, Pid}, internal, Acc1);
                false -> Acc
            end
        end,
        St, Hubs).

ctl(Cmd) -> gen_server:call(?SERVER, {ctl, Cmd}, ?CALL_TIMEOUT).
