# Operation "topology": for each instance asked about, its Always On availability groups (every
# replica with its availability and failover modes; role, connection, synchronization state and
# failover readiness where this instance can see them) and, for a failover cluster instance, its
# nodes and the node that owns it. One instance that cannot be read does not hide the others.
# Windows PowerShell 5.1 compatible.

function Get-TopologyText {
    # A DMV's *_desc value as text, or $null.
    param([AllowNull()][object]$Value)
    if ($null -eq $Value) { return $null }
    return [string]$Value
}

function Get-ReplicaSynchronizationState {
    # One state for a replica from its databases' counts: NOT SYNCHRONIZING when any database is, else
    # SYNCHRONIZED when all are, else SYNCHRONIZING (catching up, reverting or initializing).
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Row)
    $count = [int]$Row['database_count']
    if ([int]$Row['not_synchronizing_count'] -gt 0) { return 'NOT SYNCHRONIZING' }
    if ($count -gt 0 -and [int]$Row['synchronized_count'] -eq $count) { return 'SYNCHRONIZED' }
    return 'SYNCHRONIZING'
}

function ConvertTo-AvailabilityGroupFacts {
    param([object[]]$ReplicaRows, [object[]]$DatabaseRows)
    $databases = @{}
    foreach ($row in @($DatabaseRows)) {
        if ($null -eq $row) { continue }
        $databases[([string]$row['group_name'] + '|' + [string]$row['replica_server_name']).ToUpperInvariant()] = $row
    }
    $groups = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $byName = @{}
    foreach ($row in @($ReplicaRows)) {
        if ($null -eq $row) { continue }
        $groupName = [string]$row['group_name']
        $group = $byName[$groupName.ToUpperInvariant()]
        if ($null -eq $group) {
            $group = [ordered]@{ name = $groupName; replicas = (New-Object -TypeName 'System.Collections.Generic.List[object]') }
            $byName[$groupName.ToUpperInvariant()] = $group
            $groups.Add($group)
        }
        $known = $null -ne $row['role_desc']
        $database = $databases[($groupName + '|' + [string]$row['replica_server_name']).ToUpperInvariant()]
        $state = $null
        $failoverReady = $null
        if ($null -ne $database) {
            $state = Get-ReplicaSynchronizationState -Row $database
            if ($null -ne $database['failover_ready']) { $failoverReady = ([int]$database['failover_ready'] -eq 1) }
        }
        $connected = $null
        if ($known) { $connected = ([string]$row['connected_state_desc'] -eq 'CONNECTED') }
        $group['replicas'].Add([ordered]@{
                replicaServerName    = [string]$row['replica_server_name']
                availabilityMode     = Get-TopologyText -Value $row['availability_mode_desc']
                failoverMode         = Get-TopologyText -Value $row['failover_mode_desc']
                isLocal              = ([int]$row['is_local'] -eq 1)
                role                 = Get-TopologyText -Value $row['role_desc']
                connected            = $connected
                synchronizationState = $state
                failoverReady        = $failoverReady
            })
    }
    foreach ($group in $groups) { $group['replicas'] = $group['replicas'].ToArray() }
    return , $groups.ToArray()
}

function Get-InstanceTopology {
    param([Parameter(Mandatory = $true)][string]$Instance)
    $facts = Invoke-SqlClusterQuery -Instance $Instance
    $groups = @()
    if ([int]$facts['is_hadr_enabled'] -eq 1) {
        $groups = ConvertTo-AvailabilityGroupFacts -ReplicaRows @(Invoke-SqlHadrReplicaQuery -Instance $Instance) -DatabaseRows @(Invoke-SqlHadrDatabaseQuery -Instance $Instance)
    }
    $cluster = $null
    if ([int]$facts['is_clustered'] -eq 1) {
        $cluster = [ordered]@{ nodes = @($facts['nodes'] | ForEach-Object { [string]$_ }); owner = [string]$facts['physical_node'] }
    }
    return [ordered]@{
        instance           = $Instance
        error              = $null
        serverName         = Get-TopologyText -Value $facts['server_name']
        hadrEnabled        = ([int]$facts['is_hadr_enabled'] -eq 1)
        availabilityGroups = $groups
        failoverCluster    = $cluster
    }
}

function Invoke-TopologyOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instances = New-Object -TypeName 'System.Collections.Generic.List[object]'
    # Assigned first: the argument is one list object, which @() must enumerate, not wrap.
    $instanceArgument = Get-OperationArgument -Arguments $Arguments -Name 'instances'
    foreach ($instance in @($instanceArgument)) {
        try {
            $instances.Add((Get-InstanceTopology -Instance ([string]$instance)))
        } catch {
            $instances.Add([ordered]@{
                    instance           = [string]$instance
                    error              = $_.Exception.GetBaseException().Message
                    serverName         = $null
                    hadrEnabled        = $false
                    availabilityGroups = @()
                    failoverCluster    = $null
                })
        }
    }
    return [ordered]@{ instances = $instances.ToArray() }
}
