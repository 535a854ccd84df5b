// Sends the picked file to the API as multipart/form-data and reports upload progress to FileUploader.razor.
export function upload(input, url, fields, dotnet) {
    const file = input.files && input.files[0];
    if (!file) {
        dotnet.invokeMethodAsync('OnDone', 400, JSON.stringify({ detail: 'Choose a file first.' }));
        return;
    }
    const form = new FormData();
    // Fields first, so the server knows them before the file streams in (it accepts any order).
    for (const [k, v] of Object.entries(fields || {})) if (v !== null && v !== undefined && v !== '') form.append(k, v);
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) dotnet.invokeMethodAsync('OnProgress', e.loaded, e.total); };
    xhr.onload = () => {
        input.value = '';
        dotnet.invokeMethodAsync('OnDone', xhr.status, xhr.responseText || '');
    };
    xhr.onerror = () => dotnet.invokeMethodAsync('OnDone', 0, JSON.stringify({ detail: 'The upload failed (connection lost or request refused).' }));
    xhr.send(form);
}
