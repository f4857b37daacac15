# Operations "setFailoverMode", "failover" and "moveRole": the changes a rolling update makes to an
# availability group or a failover cluster instance, each checked afterwards by reading the instance
# again, so that a statement that returned without doing what was asked is an error, not a success.
# Windows PowerShell 5.1 compatible.

function ConvertTo-SqlIdentifier {
    # [name], with ] doubled: QUOTENAME's rule, so a group name never becomes code.
    param([Parameter(Mandatory = $true)][string]$Name)
    if ($Name.Length -eq 0 -or $Name.Length -gt 128) { throw (New-OperationException -Type 'InvalidArguments' -Message ('not a SQL Server name: "{0}"' -f $Name)) }
    return '[' + $Name.Replace(']', ']]') + ']'
}

function ConvertTo-SqlLiteral {
    # N'text', with ' doubled.
    param([Parameter(Mandatory = $true)][string]$Text)
    return "N'" + $Text.Replace("'", "''") + "'"
}

function Get-FailoverModeStatement {
    param([Parameter(Mandatory = $true)][string]$Group, [Parameter(Mandatory = $true)][string]$Replica, [Parameter(Mandatory = $true)][string]$Mode)
    if ($Mode -ne 'automatic' -and $Mode -ne 'manual') { throw (New-OperationException -Type 'InvalidArguments' -Message ('failover mode must be automatic or manual, not "{0}"' -f $Mode)) }
    return ('ALTER AVAILABILITY GROUP {0} MODIFY REPLICA ON {1} WITH (FAILOVER_MODE = {2})' -f (ConvertTo-SqlIdentifier -Name $Group), (ConvertTo-SqlLiteral -Text $Replica), $Mode.ToUpperInvariant())
}

function Get-FailoverStatement {
    param([Parameter(Mandatory = $true)][string]$Group)
    return ('ALTER AVAILABILITY GROUP {0} FAILOVER' -f (ConvertTo-SqlIdentifier -Name $Group))
}

function Find-GroupReplicaRow {
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$Group, [AllowNull()][string]$Replica)
    foreach ($row in @(Invoke-SqlHadrReplicaQuery -Instance $Instance)) {
        if ($null -eq $row -or [string]$row['group_name'] -ne $Group) { continue }
        if ([string]::IsNullOrEmpty($Replica)) {
            if ([int]$row['is_local'] -eq 1) { return $row }
        } elseif ([string]$row['replica_server_name'] -eq $Replica) {
            return $row
        }
    }
    return $null
}

function Invoke-SetFailoverModeOperation {
    # Run on the primary: SQL Server changes a replica's failover mode only there.
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instance = [string](Get-OperationArgument -Arguments $Arguments -Name 'instance')
    $group = [string](Get-OperationArgument -Arguments $Arguments -Name 'group')
    $replica = [string](Get-OperationArgument -Arguments $Arguments -Name 'replica')
    $mode = [string](Get-OperationArgument -Arguments $Arguments -Name 'mode')
    $statement = Get-FailoverModeStatement -Group $group -Replica $replica -Mode $mode
    $before = Find-GroupReplicaRow -Instance $instance -Group $group -Replica $replica
    if ($null -eq $before) { throw (New-OperationException -Type 'ReplicaNotFound' -Message ('{0} is not a replica of availability group {1} as {2} sees it' -f $replica, $group, $instance)) }
    $previous = ([string]$before['failover_mode_desc']).ToLowerInvariant()
    if ($previous -ne $mode) { Invoke-LocalSqlNonQuery -Instance $instance -CommandText $statement }
    $after = Find-GroupReplicaRow -Instance $instance -Group $group -Replica $replica
    $now = ([string]$after['failover_mode_desc']).ToLowerInvariant()
    if ($now -ne $mode) { throw (New-OperationException -Type 'ChangeNotApplied' -Message ('{0} in {1} still has failover mode {2}' -f $replica, $group, $now)) }
    return [ordered]@{ previous = $previous; current = $now; changed = ($previous -ne $now) }
}

function Invoke-FailoverOperation {
    # Run on the secondary that is to become primary: a planned failover without data loss.
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instance = [string](Get-OperationArgument -Arguments $Arguments -Name 'instance')
    $group = [string](Get-OperationArgument -Arguments $Arguments -Name 'group')
    $statement = Get-FailoverStatement -Group $group
    $before = Find-GroupReplicaRow -Instance $instance -Group $group -Replica $null
    if ($null -eq $before) { throw (New-OperationException -Type 'ReplicaNotFound' -Message ('{0} has no replica of availability group {1}' -f $instance, $group)) }
    $wasPrimary = ([string]$before['role_desc']) -eq 'PRIMARY'
    if (-not $wasPrimary) { Invoke-LocalSqlNonQuery -Instance $instance -CommandText $statement }
    $after = Find-GroupReplicaRow -Instance $instance -Group $group -Replica $null
    if (([string]$after['role_desc']) -ne 'PRIMARY') {
        throw (New-OperationException -Type 'ChangeNotApplied' -Message ('{0} is {1} in {2} after the failover' -f $instance, [string]$after['role_desc'], $group))
    }
    return [ordered]@{ alreadyPrimary = $wasPrimary }
}

function Invoke-MoveRoleOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instance = [string](Get-OperationArgument -Arguments $Arguments -Name 'instance')
    $node = [string](Get-OperationArgument -Arguments $Arguments -Name 'node')
    # Run on a node of the cluster, not through the instance's virtual name, which moves with the role.
    $previous = Get-SqlClusterRoleOwner -Instance $instance
    if ($previous -eq $node) { return [ordered]@{ previous = $previous; current = $previous; changed = $false } }
    $owner = Move-SqlClusterRole -Instance $instance -Node $node
    if ($owner -ne $node) { throw (New-OperationException -Type 'ChangeNotApplied' -Message ('the role of {0} is on {1}, not {2}, after the move' -f $instance, $owner, $node)) }
    return [ordered]@{ previous = $previous; current = $owner; changed = $true }
}
