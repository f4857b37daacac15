# topology, with only the SQL query surfaces mocked: the rows SQL Server's catalog views and DMVs
# return for a primary, a secondary, a failover cluster instance and an instance that is down.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'Topology.ps1')
    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')

    function New-ReplicaRow($Group, $Name, $Mode, $Failover, $Role, $Connected, $Local) {
        [ordered]@{ group_name = $Group; replica_server_name = $Name; availability_mode_desc = $Mode; failover_mode_desc = $Failover; role_desc = $Role; connected_state_desc = $Connected; is_local = $Local }
    }
    function New-DatabaseRow($Group, $Name, $Count, $Synchronized, $NotSynchronizing, $Ready) {
        [ordered]@{ group_name = $Group; replica_server_name = $Name; database_count = $Count; synchronized_count = $Synchronized; not_synchronizing_count = $NotSynchronizing; failover_ready = $Ready }
    }
}

Describe 'topology' {
    It 'assembles every replica of each group as the primary sees it, and the state of its databases' {
        Mock Invoke-SqlClusterQuery { [ordered]@{ is_clustered = 0; is_hadr_enabled = 1; physical_node = 'SQL1'; server_name = 'SQL1'; nodes = @() } }
        Mock Invoke-SqlHadrReplicaQuery {
            New-ReplicaRow 'AG1' 'SQL1' 'SYNCHRONOUS_COMMIT' 'AUTOMATIC' 'PRIMARY' 'CONNECTED' 1
            New-ReplicaRow 'AG1' 'SQL2' 'SYNCHRONOUS_COMMIT' 'AUTOMATIC' 'SECONDARY' 'CONNECTED' 0
            New-ReplicaRow 'AG1' 'DR1\SALES' 'ASYNCHRONOUS_COMMIT' 'MANUAL' 'SECONDARY' 'DISCONNECTED' 0
            New-ReplicaRow 'AG2' 'SQL1' 'SYNCHRONOUS_COMMIT' 'MANUAL' 'PRIMARY' 'CONNECTED' 1
        }
        Mock Invoke-SqlHadrDatabaseQuery {
            New-DatabaseRow 'AG1' 'SQL1' 3 3 0 1
            # One of three databases still catching up after a patch.
            New-DatabaseRow 'AG1' 'SQL2' 3 2 0 0
            New-DatabaseRow 'AG1' 'DR1\SALES' 3 0 3 0
            New-DatabaseRow 'AG2' 'SQL1' 1 1 0 $null
        }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-TopologyOperation' -Arguments ([ordered]@{ instances = @('MSSQLSERVER') })
        $envelope['ok'] | Should -BeTrue
        $instance = @($envelope['result']['instances'])[0]
        $instance['error'] | Should -BeNullOrEmpty
        $instance['hadrEnabled'] | Should -BeTrue
        $instance['failoverCluster'] | Should -BeNullOrEmpty
        $groups = @($instance['availabilityGroups'])
        $groups.Count | Should -Be 2
        $groups[0]['name'] | Should -Be 'AG1'
        $replicas = @($groups[0]['replicas'])
        $replicas.Count | Should -Be 3
        $replicas[0]['replicaServerName'] | Should -Be 'SQL1'
        $replicas[0]['isLocal'] | Should -BeTrue
        $replicas[0]['role'] | Should -Be 'PRIMARY'
        $replicas[0]['synchronizationState'] | Should -Be 'SYNCHRONIZED'
        $replicas[0]['failoverReady'] | Should -BeTrue
        $replicas[1]['availabilityMode'] | Should -Be 'SYNCHRONOUS_COMMIT'
        $replicas[1]['failoverMode'] | Should -Be 'AUTOMATIC'
        $replicas[1]['synchronizationState'] | Should -Be 'SYNCHRONIZING'
        $replicas[1]['failoverReady'] | Should -BeFalse
        $replicas[2]['replicaServerName'] | Should -Be 'DR1\SALES'
        $replicas[2]['connected'] | Should -BeFalse
        $replicas[2]['synchronizationState'] | Should -Be 'NOT SYNCHRONIZING'
        @($groups[1]['replicas'])[0]['failoverReady'] | Should -BeNullOrEmpty
    }

    It 'leaves what a secondary cannot see unknown rather than guessing' {
        Mock Invoke-SqlClusterQuery { [ordered]@{ is_clustered = 0; is_hadr_enabled = 1; physical_node = 'SQL2'; server_name = 'SQL2'; nodes = @() } }
        Mock Invoke-SqlHadrReplicaQuery {
            New-ReplicaRow 'AG1' 'SQL1' 'SYNCHRONOUS_COMMIT' 'MANUAL' $null $null 0
            New-ReplicaRow 'AG1' 'SQL2' 'SYNCHRONOUS_COMMIT' 'MANUAL' 'SECONDARY' 'CONNECTED' 1
        }
        Mock Invoke-SqlHadrDatabaseQuery { New-DatabaseRow 'AG1' 'SQL2' 1 1 0 1 }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-TopologyOperation' -Arguments ([ordered]@{ instances = @('MSSQLSERVER') })
        $replicas = @(@(@($envelope['result']['instances'])[0]['availabilityGroups'])[0]['replicas'])
        $replicas[0]['role'] | Should -BeNullOrEmpty
        $replicas[0]['connected'] | Should -BeNullOrEmpty
        $replicas[0]['synchronizationState'] | Should -BeNullOrEmpty
        $replicas[1]['role'] | Should -Be 'SECONDARY'
        $replicas[1]['synchronizationState'] | Should -Be 'SYNCHRONIZED'
    }

    It 'reports a failover cluster instance with its nodes and owner, and asks no AG question when Always On is off' {
        Mock Invoke-SqlClusterQuery { [ordered]@{ is_clustered = 1; is_hadr_enabled = 0; physical_node = 'NODE2'; server_name = 'SQLFCI\PROD'; nodes = @('NODE1', 'NODE2') } }
        Mock Invoke-SqlHadrReplicaQuery { throw 'must not be asked' }
        Mock Invoke-SqlHadrDatabaseQuery { throw 'must not be asked' }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-TopologyOperation' -Arguments ([ordered]@{ instances = @('PROD') })
        $instance = @($envelope['result']['instances'])[0]
        $instance['failoverCluster']['owner'] | Should -Be 'NODE2'
        @($instance['failoverCluster']['nodes']) | Should -Be @('NODE1', 'NODE2')
        @($instance['availabilityGroups']).Count | Should -Be 0
        Should -Invoke Invoke-SqlHadrReplicaQuery -Times 0
    }

    It 'answers for every instance asked about, naming why one could not be read' {
        Mock Invoke-SqlClusterQuery { throw 'A network-related or instance-specific error occurred while establishing a connection to SQL Server' } -ParameterFilter { $Instance -eq 'DOWN' }
        Mock Invoke-SqlClusterQuery { [ordered]@{ is_clustered = 0; is_hadr_enabled = 0; physical_node = 'SQL1'; server_name = 'SQL1'; nodes = @() } }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-TopologyOperation' -Arguments ([ordered]@{ instances = @('DOWN', 'MSSQLSERVER') })
        $instances = @($envelope['result']['instances'])
        $instances.Count | Should -Be 2
        $instances[0]['instance'] | Should -Be 'DOWN'
        $instances[0]['error'] | Should -Match 'network-related'
        $instances[1]['error'] | Should -BeNullOrEmpty
    }
}
