# setFailoverMode, failover and moveRole, with only the SQL and cluster surfaces mocked: the statement
# sent, and the check afterwards that the change took effect.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'AvailabilityChange.ps1')
    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')

    function New-Row($Name, $Mode, $Role, $Local) {
        [ordered]@{ group_name = 'AG]1'; replica_server_name = $Name; availability_mode_desc = 'SYNCHRONOUS_COMMIT'; failover_mode_desc = $Mode; role_desc = $Role; connected_state_desc = 'CONNECTED'; is_local = $Local }
    }
}

Describe 'statements' {
    It 'quotes the group as an identifier and the replica as a literal, so neither becomes code' {
        Get-FailoverModeStatement -Group 'AG]1' -Replica "SQL1\O'NEIL" -Mode 'manual' | Should -Be "ALTER AVAILABILITY GROUP [AG]]1] MODIFY REPLICA ON N'SQL1\O''NEIL' WITH (FAILOVER_MODE = MANUAL)"
        Get-FailoverStatement -Group 'AG]1' | Should -Be 'ALTER AVAILABILITY GROUP [AG]]1] FAILOVER'
        { Get-FailoverModeStatement -Group 'AG1' -Replica 'SQL1' -Mode 'MANUAL); DROP DATABASE x; --' } | Should -Throw '*automatic or manual*'
    }
}

Describe 'setFailoverMode' {
    It 'sends the statement, then reads the replica again and reports the change' {
        $script:mode = 'AUTOMATIC'
        Mock Invoke-SqlHadrReplicaQuery { New-Row 'SQL1' 'MANUAL' 'PRIMARY' 1; New-Row 'SQL2' $script:mode 'SECONDARY' 0 }
        Mock Invoke-LocalSqlNonQuery { $script:mode = 'MANUAL' }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-SetFailoverModeOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER'; group = 'AG]1'; replica = 'SQL2'; mode = 'manual' })
        $envelope['ok'] | Should -BeTrue
        $envelope['result']['previous'] | Should -Be 'automatic'
        $envelope['result']['current'] | Should -Be 'manual'
        $envelope['result']['changed'] | Should -BeTrue
        Should -Invoke Invoke-LocalSqlNonQuery -Times 1 -ParameterFilter { $CommandText -eq "ALTER AVAILABILITY GROUP [AG]]1] MODIFY REPLICA ON N'SQL2' WITH (FAILOVER_MODE = MANUAL)" }
    }

    It 'sends nothing when the mode is already set' {
        Mock Invoke-SqlHadrReplicaQuery { New-Row 'SQL2' 'MANUAL' 'SECONDARY' 0 }
        Mock Invoke-LocalSqlNonQuery { $null }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-SetFailoverModeOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER'; group = 'AG]1'; replica = 'SQL2'; mode = 'manual' })
        $envelope['result']['changed'] | Should -BeFalse
        Should -Invoke Invoke-LocalSqlNonQuery -Times 0
    }

    It 'is an error when the statement returned but the mode did not change' {
        Mock Invoke-SqlHadrReplicaQuery { New-Row 'SQL2' 'AUTOMATIC' 'SECONDARY' 0 }
        Mock Invoke-LocalSqlNonQuery { $null }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-SetFailoverModeOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER'; group = 'AG]1'; replica = 'SQL2'; mode = 'manual' })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'ChangeNotApplied'
    }
}

Describe 'failover' {
    It 'fails over from the secondary and checks that it became primary' {
        $script:role = 'SECONDARY'
        Mock Invoke-SqlHadrReplicaQuery { New-Row 'SQL2' 'MANUAL' $script:role 1 }
        Mock Invoke-LocalSqlNonQuery { $script:role = 'PRIMARY' }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-FailoverOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER'; group = 'AG]1' })
        $envelope['ok'] | Should -BeTrue
        $envelope['result']['alreadyPrimary'] | Should -BeFalse
        Should -Invoke Invoke-LocalSqlNonQuery -Times 1 -ParameterFilter { $CommandText -eq 'ALTER AVAILABILITY GROUP [AG]]1] FAILOVER' }
    }

    It 'passes on what SQL Server refuses (a secondary that is not synchronized)' {
        Mock Invoke-SqlHadrReplicaQuery { New-Row 'SQL2' 'MANUAL' 'SECONDARY' 1 }
        Mock Invoke-LocalSqlNonQuery { throw 'The availability replica for availability group ''AG1'' on this instance of SQL Server cannot become the primary replica. One or more databases are not synchronized' }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-FailoverOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER'; group = 'AG]1' })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['message'] | Should -Match 'not synchronized'
    }
}

Describe 'moveRole' {
    It 'moves the role and checks the new owner; does nothing when the node owns it already' {
        Mock Get-SqlClusterRoleOwner { 'NODE1' }
        Mock Move-SqlClusterRole { $Node }
        $moved = Invoke-TestOperation -EntryPoint 'Invoke-MoveRoleOperation' -Arguments ([ordered]@{ instance = 'PROD'; node = 'NODE2' })
        $moved['result']['previous'] | Should -Be 'NODE1'
        $moved['result']['current'] | Should -Be 'NODE2'
        $same = Invoke-TestOperation -EntryPoint 'Invoke-MoveRoleOperation' -Arguments ([ordered]@{ instance = 'PROD'; node = 'NODE1' })
        $same['result']['changed'] | Should -BeFalse
        Should -Invoke Move-SqlClusterRole -Times 1
    }

    It 'is an error when the role ends up elsewhere' {
        Mock Get-SqlClusterRoleOwner { 'NODE1' }
        Mock Move-SqlClusterRole { 'NODE1' }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-MoveRoleOperation' -Arguments ([ordered]@{ instance = 'PROD'; node = 'NODE2' })
        $envelope['error']['type'] | Should -Be 'ChangeNotApplied'
    }
}
