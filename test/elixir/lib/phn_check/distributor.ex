defmodule PhnCheck.Distributor do
  @moduledoc """
  The originating side of an operation, shaped like ProcessHub's Distributor
  (REFERENCE.md §4.1): place children, build `nodes_data`, `RequestManager.new/4` +
  `compose_sub_requests/1`, then split every sub-request and send each target node one
  `{:requests_handle_event, [request]}`.

  `hub` is the coordinator state; `hub.rm` is the RequestManager module.
  """

  alias ProcessHub.Constant.StorageKey
  alias ProcessHub.Request.Handler.{StartChildrenRequest, StopChildrenRequest}
  alias ProcessHub.Service.Storage
  alias ProcessHub.Strategy.Distribution.Base, as: Distribution

  @doc """
  `{:ok, op}` (composed and dispatched) or `{:error, reason}`. Options read here:
  `check_existing`, `metadata`, `replication_factor` (default 1) and `child_mapping`
  (`%{child_id => [node]}`, a guided placement that overrides the strategy).
  """
  def compose_start_operation(_hub, [], _opts), do: {:error, :no_children}

  def compose_start_operation(%{rm: rm} = hub, specs, opts) do
    with :ok <- check_existing(hub, specs, opts) do
      strategy = Storage.get(hub.storage.misc, StorageKey.strdist())
      mapping = Keyword.get(opts, :child_mapping, %{})
      rf = Keyword.get(opts, :replication_factor, 1)

      children =
        Enum.map(specs, fn %{id: cid} = spec ->
          %{
            hub_id: hub.hub_id,
            nodes: Map.get_lazy(mapping, cid, fn -> Distribution.belongs_to(strategy, hub, cid, rf) end),
            child_id: cid,
            child_spec: spec,
            metadata: Keyword.get(opts, :metadata, %{})
          }
        end)

      opts = Keyword.put(opts, :request_signature, Distribution.distribution_signature(strategy, hub))
      op = rm.new(hub, StartChildrenRequest, nodes_data(children), opts)
      {:ok, op} = rm.compose_sub_requests(op)
      {:ok, dispatch(hub, op)}
    end
  end

  @doc """
  `{:ok, op}` or `{:error, :no_children}`. Children are looked up in the local registry;
  unknown ones go to `not_found_children`. If none is known the operation is created
  with `nodes_data: []` and is neither composed nor dispatched (it is already complete).
  """
  def compose_stop_operation(_hub, [], _opts), do: {:error, :no_children}

  def compose_stop_operation(%{rm: rm} = hub, cids, opts) do
    {found, not_found} =
      Enum.reduce(cids, {[], []}, fn cid, {found, not_found} ->
        case PhnCheck.Registry.lookup(hub, cid) do
          nil -> {found, [cid | not_found]}
          {_spec, node_pids, _meta} -> {[%{child_id: cid, nodes: Keyword.keys(node_pids)} | found], not_found}
        end
      end)

    opts = Keyword.put(opts, :not_found_children, Enum.reverse(not_found))

    case found do
      [] ->
        {:ok, rm.new(hub, StopChildrenRequest, [], opts)}

      _ ->
        op = rm.new(hub, StopChildrenRequest, nodes_data(Enum.reverse(found)), opts)
        {:ok, op} = rm.compose_sub_requests(op)
        {:ok, dispatch(hub, op)}
    end
  end

  @doc """
  `[{node, [child]}]`: each child (in order) is prepended to the list of each of its
  nodes, and the nodes it touched move to the end (keyword merge, as ProcessHub builds it).
  """
  def nodes_data(children) do
    Enum.reduce(children, [], fn %{nodes: nodes} = child, acc ->
      Keyword.merge(acc, Enum.map(nodes, &{&1, [child | Keyword.get(acc, &1, [])]}))
    end)
  end

  @doc """
  Splits each sub-request (`RequestManager.split/1`: 1 000 children per request) and
  sends every target node its requests in one `{:requests_handle_event, requests}`.
  The pending container's `prepare/2` runs first. Returns the operation.
  """
  def dispatch(%{rm: rm, pending: pending} = hub, op) do
    op = pending.prepare(hub, op)

    op.sub_requests
    |> Enum.group_by(& &1.node)
    |> Enum.each(fn {node, sub_requests} ->
      requests = Enum.flat_map(sub_requests, &rm.split/1)
      send({hub.hub_id, node}, {:requests_handle_event, requests})
    end)

    op
  end

  defp check_existing(hub, specs, opts) do
    if Keyword.get(opts, :check_existing, true) do
      case for(%{id: cid} <- specs, PhnCheck.Registry.lookup(hub, cid) != nil, do: cid) do
        [] -> :ok
        cids -> {:error, {:already_started, cids}}
      end
    else
      :ok
    end
  end
end
