# stagedFile and copyFromShare on real temporary files; only the staging folder's ACL (a Windows
# surface) is mocked: a folder there reads as safe, a new one is created plainly.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'StagingFolder.ps1')
    . (Join-Path $operations 'StagedFile.ps1')
    . (Join-Path $operations 'CopyFromShare.ps1')

    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')
}

Describe 'stagedFile' {
    BeforeEach {
        Mock Get-DirectorySecurityFacts { if (Test-Path -LiteralPath $Path -PathType Container) { [ordered]@{ ownerSid = 'S-1-5-32-544'; owner = 'BUILTIN\Administrators'; rules = @() } } }
        Mock New-ProtectedDirectory { $null = New-Item -ItemType Directory -Path $Path -Force }
        $script:Staging = Join-Path ([System.IO.Path]::GetTempPath()) ('staging-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $script:Staging
        $script:Installer = Join-Path $script:Staging 'SQLServer2019-KB5046859-x64.exe'
        [System.IO.File]::WriteAllBytes($script:Installer, [System.Text.Encoding]::ASCII.GetBytes('abc'))
    }
    AfterEach {
        Remove-Item -LiteralPath $script:Staging -Recurse -Force
    }

    It 'reports size and the lower-case SHA-256 that Get-FileHash computes' {
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-StagedFileOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; fileName = 'SQLServer2019-KB5046859-x64.exe' }))['result']
        $result['exists'] | Should -BeTrue
        $result['path'] | Should -Be $script:Installer
        $result['sizeBytes'] | Should -Be 3
        # SHA-256 of "abc".
        $result['sha256'] | Should -Be 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    }

    It 'does not hash a file whose size differs from the expected one' {
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-StagedFileOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; fileName = 'SQLServer2019-KB5046859-x64.exe'; expectedSizeBytes = 4 }))['result']
        $result['exists'] | Should -BeTrue
        $result['sizeBytes'] | Should -Be 3
        $result['sha256'] | Should -BeNullOrEmpty
    }

    It 'reports a missing file, and creates the staging folder when asked' {
        $folder = Join-Path $script:Staging 'new folder'
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-StagedFileOperation' -Arguments ([ordered]@{ stagingDir = $folder; fileName = 'x.exe'; createDirectory = $true }))['result']
        $result['exists'] | Should -BeFalse
        $result['sha256'] | Should -BeNullOrEmpty
        Test-Path -LiteralPath $folder -PathType Container | Should -BeTrue
        Should -Invoke New-ProtectedDirectory -Times 1 -ParameterFilter { $Path -eq $folder }
    }

    It 'refuses a file name that leaves the staging folder: <name>' -ForEach @(@{ name = '../x.exe' }, @{ name = '..\x.exe' }, @{ name = 'C:\x.exe' }, @{ name = 'a/b.exe' }) {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-StagedFileOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; fileName = $name })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'InvalidArguments'
    }
}

Describe 'copyFromShare' {
    BeforeEach {
        Mock Get-DirectorySecurityFacts { if (Test-Path -LiteralPath $Path -PathType Container) { [ordered]@{ ownerSid = 'S-1-5-32-544'; owner = 'BUILTIN\Administrators'; rules = @() } } }
        Mock New-ProtectedDirectory { $null = New-Item -ItemType Directory -Path $Path -Force }
        $script:Share = Join-Path ([System.IO.Path]::GetTempPath()) ('share-' + [guid]::NewGuid().ToString('N'))
        $script:Staging = Join-Path ([System.IO.Path]::GetTempPath()) ('staging-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $script:Share
        [System.IO.File]::WriteAllText((Join-Path $script:Share 'cu.exe'), 'installer bytes')
    }
    AfterEach {
        Remove-Item -LiteralPath $script:Share, $script:Staging -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'copies into the staging folder under the installer''s name, leaving no partial file' {
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-CopyFromShareOperation' -Arguments ([ordered]@{ sourcePath = (Join-Path $script:Share 'cu.exe'); stagingDir = $script:Staging; fileName = 'cu.exe' }))['result']
        $result['sizeBytes'] | Should -Be 15
        [System.IO.File]::ReadAllText($result['path']) | Should -Be 'installer bytes'
        @(Get-ChildItem -LiteralPath $script:Staging).Name | Should -Be @('cu.exe')
    }

    It 'names the double hop when the source cannot be read' {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-CopyFromShareOperation' -Arguments ([ordered]@{ sourcePath = (Join-Path $script:Share 'missing.exe'); stagingDir = $script:Staging; fileName = 'cu.exe' })
        $envelope['error']['type'] | Should -Be 'FileNotFound'
        $envelope['error']['message'] | Should -BeLike '*the double hop*'
    }
}
