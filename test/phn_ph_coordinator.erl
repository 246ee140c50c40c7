%% @doc A coordinator shaped as ProcessHub's (REFERENCE.md §4), for the C-node mode suite:
%% it knows nothing of this library but the RequestManager functions, called where and as
%% ProcessHub's coordinator calls them (?RM is the drop-in, as ProcessHub's module name
%% would be after install). One runs on every node, registered as the hub id:
%% <ul>
%% <li>call `{init_children_start, NodesData, Opts}': `new', `compose_sub_requests',
%%   dispatch (each sub-request split, one `{requests_handle_event, Chunks}' per target
%%   node's coordinator), `store'; replies `{ok, Future}'.</li>
%% <li>`{requests_handle_event, Reqs}' (as a target): each request answered with
%%   `send_response(operation_response, request_to_opts(Req), Results)', after the
%%   configured delay, or not at all when silent.</li>
%% <li>cast `{operation_response, Ref, Node, Results}' -> `handle_response/4'; call
%%   `{await_result, Ref}' -> `handle_await/3'; info `{await_timeout, Ref, From}' ->
%%   `handle_timeout/3'; info `cleanup_expired_requests' -> `cleanup_expired/1'.</li>
%% </ul>
%% For the tests only: every operation_response cast it gets is logged in the public ETS
%% table `phn_ph_log' (as does the handler's post_process, 'Elixir.PhnTest.CountedStartRequest'),
%% and calls `pending_refs', `{set_target, #{delay => Ms, silent => Bool}}'.
-module(phn_ph_coordinator).
-behaviour(gen_server).

-export([start/1, stop/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

-define(RM, phn_request_manager).

%% @doc Start (unlinked: peer calls run in short-lived processes) as HubId.
start(HubId) ->
    {ok, Pid} = gen_server:start({local, HubId}, ?MODULE, HubId, []),
    Pid.

stop(HubId) -> gen_server:stop(HubId).

init(HubId) ->
    _ = case ets:whereis(phn_ph_log) of
            undefined -> ets:new(phn_ph_log, [named_table, public, bag, {heir, whereis(init), none}]);
            _ -> ok
        end,
    {ok, #{hub_id => HubId, pending_operations => #{}, target => #{}}}.

handle_call({init_children_start, NodesData, Opts}, _From, #{hub_id := HubId} = State) ->
    Handler = 'Elixir.PhnTest.CountedStartRequest',
    Op = ?RM:new(#{hub_id => HubId}, Handler, NodesData, Opts),
    case ?RM:compose_sub_requests(Op) of
        {ok, Op1} ->
            dispatch(HubId, maps:get(sub_requests, Op1)),
            {reply, {ok, maps:get(future, Op1)}, ?RM:store(State, Op1)};
        Error ->
            {reply, Error, State}
    end;
handle_call({await_result, Ref}, From, State) ->
    ?RM:handle_await(State, Ref, From);
handle_call(pending_refs, _From, #{pending_operations := P} = State) ->
    {reply, maps:keys(P), State};
handle_call({set_target, Target}, _From, State) ->
    {reply, ok, State#{target := Target}}.

handle_cast({operation_response, Ref, Node, Results}, State) ->
    %% phn_cnode's report is kept whole; a node's response only by who sent it.
    Kept = case Node of '$phn_cnode' -> Results; _ -> none end,
    ets:insert(phn_ph_log, {{cast, Ref}, Node, erlang:unique_integer([monotonic]), Kept}),
    ?RM:handle_response(State, Ref, Node, Results);
handle_cast(_Other, State) ->
    {noreply, State}.

handle_info({requests_handle_event, Reqs}, #{target := Target} = State) ->
    case Target of
        #{silent := true} -> ok;
        _ ->
            Delay = maps:get(delay, Target, 0),
            spawn(fun() ->
                          timer:sleep(Delay),
                          [answer(Req) || Req <- Reqs]
                  end)
    end,
    {noreply, State};
handle_info({await_timeout, Ref, From}, State) ->
    ?RM:handle_timeout(State, Ref, From);
handle_info(cleanup_expired_requests, State) ->
    {noreply, ?RM:cleanup_expired(State)};
handle_info(_Other, State) ->
    {noreply, State}.

%% As the Dispatcher: the sub-requests grouped by target node, each split.
dispatch(HubId, Subs) ->
    Nodes = lists:usort([maps:get(node, S) || S <- Subs]),
    [erlang:send({HubId, Node},
                 {requests_handle_event,
                  lists:append([?RM:split(S) || #{node := N} = S <- Subs, N =:= Node])})
     || Node <- Nodes],
    ok.

%% As StartChildrenRequest's execution on the target node: every child started.
answer(Req) ->
    Results = [{maps:get(child_id, C), {ok, self()}} || C <- maps:get(children, Req)],
    ?RM:send_response(operation_response, ?RM:request_to_opts(Req), Results).
