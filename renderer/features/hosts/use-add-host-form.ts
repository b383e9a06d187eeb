import { useState } from 'react'
import type { HostKindDto } from '../../../engine/api/contract'
import { useHosts } from '../../api/queries'
import { defaultUser, emptyForm, MAX_KEY_BYTES, validate, type AddHostForm, type FormErrors } from './add-host-form'

const fieldOrder = ['name', 'address', 'user', 'password', 'privateKey'] as const

/** The add-host form's fields, their errors and the key file loaded into it; `id` prefixes the fields' element ids. */
export function useAddHostForm(id: string) {
  const hosts = useHosts()
  const [form, setForm] = useState<AddHostForm>(() => emptyForm())
  const [errors, setErrors] = useState<FormErrors>({})
  const [keyFileName, setKeyFileName] = useState<string | undefined>(undefined)

  const update = <K extends keyof AddHostForm>(key: K, value: AddHostForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }))
    if (key in errors) setErrors((e) => ({ ...e, [key]: undefined }))
  }

  // The user name follows the kind while it is still the previous kind's default.
  const chooseKind = (kind: HostKindDto) => {
    setForm((f) => ({ ...f, kind, user: f.user === '' || f.user === defaultUser[f.kind] ? defaultUser[kind] : f.user }))
  }

  const typeKey = (text: string) => {
    update('privateKey', text)
    setKeyFileName(undefined)
  }

  const loadKeyFile = (file: File) => {
    if (file.size > MAX_KEY_BYTES) {
      setErrors((e) => ({ ...e, privateKey: 'validation.key.tooBig' }))
      return
    }
    void file.text().then((text) => {
      update('privateKey', text)
      setKeyFileName(file.name)
    })
  }

  /** Checks every field and shows what is wrong; the cursor goes to the first bad field. True when all is well. */
  const check = (): boolean => {
    const found = validate(form, (hosts.data ?? []).map((h) => h.name))
    setErrors(found)
    const firstBad = fieldOrder.find((k) => found[k] !== undefined)
    if (firstBad) document.getElementById(`${id}-${firstBad}`)?.focus()
    return firstBad === undefined
  }

  const markNameTaken = () => setErrors((e) => ({ ...e, name: 'validation.name.taken' }))

  return { form, errors, keyFileName, update, chooseKind, typeKey, loadKeyFile, check, markNameTaken }
}

export type AddHostFormState = ReturnType<typeof useAddHostForm>
